"""The certificate mail: "Your certificate: <event>", with the PDF attached, a link to the
participant's page (where it can be downloaded again) and the verification link.

How the issuer uses it: ``queue_many(certificates, job_id=...)`` (or ``queue`` for one) in
the transaction that stores the certificates; it mints a registration link for each
participant, queues one outbox message per certificate (dedupe key ``certificate:<id>``, so
a chunk of a job done twice mails nobody twice) and records its id in
``Certificate.message_id``. ``withdraw`` cancels a mail not sent yet, for a certificate
revoked before it went.

The PDF is read when the worker sends the message, not when it is queued, and only if its
bytes are the ones issued (size and SHA-256 as recorded): otherwise the message is not sent
but fails with the reason (``CertificateFileError``), and an admin sees it in the mail page.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from eventsys.extensions import db
from eventsys.models import Certificate, OutboxMessage, Person, Registration
from eventsys.services import messaging, verification
from eventsys.services import registration as registrations_service
from eventsys.services.mail_transport import PermanentFailure

TEMPLATE = "certificate_issued"


class CertificateFileError(PermanentFailure):
    """The certificate's file is missing or not the one issued: the mail must not go."""


def dedupe_key(certificate_id: int) -> str:
    return f"certificate:{certificate_id}"


def queue(certificate: Certificate, *, job_id: int | None = None) -> int | None:
    """Queue the mail for one certificate; the outbox id, or None when it was queued before
    or its holder has no email address (a programme person without one)."""
    return queue_many([certificate], job_id=job_id).get(certificate.id)


def queue_many(certificates: Iterable[Certificate], *,
               job_id: int | None = None) -> dict[int, int]:
    """Queue the mail for each certificate not mailed before, in a few statements: the
    holder's registration address (with a new link to their page) or, for a programme
    person who did not register, the person's address. Certificate id -> new outbox id."""
    certificates = [c for c in certificates if c.status == "valid"]
    if not certificates:
        return {}
    queued_before = set(db.session.scalars(select(OutboxMessage.dedupe_key).where(
        OutboxMessage.dedupe_key.in_([dedupe_key(c.id) for c in certificates]))))
    certificates = [c for c in certificates if dedupe_key(c.id) not in queued_before]
    registrations = _by_id(Registration, {c.registration_id for c in certificates})
    people = _by_id(Person, {c.person_id for c in certificates
                             if c.registration_id is None})
    # A new link per registration, as its other mails get: each mail its own token.
    tokens = registrations_service.mint_tokens(sorted(registrations))
    by_event: dict[int, list[messaging.Outgoing]] = {}
    for certificate in certificates:
        registration = registrations.get(certificate.registration_id)
        person = people.get(certificate.person_id)
        if registration is not None:
            to_email, to_name, locale = registration.email, registration.name, \
                registration.locale
            token = tokens[registration.id]
        elif person is not None and person.email:
            to_email, to_name, locale, token = person.email, person.name, None, None
        else:
            continue
        by_event.setdefault(certificate.event_id, []).append(messaging.Outgoing(
            dedupe_key=dedupe_key(certificate.id), to_email=to_email, to_name=to_name,
            locale=locale, context={"certificate_id": certificate.id, "token": token}))
    queued: dict[int, int] = {}
    for event_id, outgoing in by_event.items():
        new = messaging.queue_many(outgoing, kind=TEMPLATE, template=TEMPLATE,
                                   event_id=event_id, job_id=job_id,
                                   secrets_in_context=("token",))
        queued.update({int(key.rpartition(":")[2]): message_id
                       for key, message_id in new.items()})
    for certificate in certificates:
        if certificate.id in queued:
            certificate.message_id = queued[certificate.id]
    return queued


def _by_id(model, ids: set[int | None]) -> dict:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return {row.id: row for row in db.session.scalars(select(model).where(model.id.in_(ids)))}


def withdraw(certificate: Certificate) -> bool:
    """Cancel the certificate's mail if it has not been taken for sending yet (the
    certificate was revoked first); whether it was. In the caller's transaction."""
    if certificate.message_id is None:
        return False
    table = OutboxMessage.__table__
    result = db.session.execute(
        table.update().where(table.c.id == certificate.message_id,
                             table.c.status == "pending")
        .values(status="cancelled", context=None,
                last_error="not sent: the certificate was revoked first"))
    return result.rowcount == 1


@messaging.context_builder(TEMPLATE)
def _certificate_mail(session, stored: dict) -> tuple[dict, list[messaging.Attachment]]:
    certificate = session.get(Certificate, stored["certificate_id"])
    if certificate is None:
        raise CertificateFileError(f"certificate {stored['certificate_id']} no longer exists")
    if certificate.status != "valid":
        raise CertificateFileError(f"certificate {certificate.code} was revoked: not sent")
    data = verification.read_intact(certificate)
    if data is None:
        raise CertificateFileError(
            f"certificate {certificate.code}: its file {certificate.stored_name} is missing "
            f"or its SHA-256 does not match the record, so it was not sent")
    event = certificate.event
    token = stored.get("token")
    context = {
        "event": messaging.mail_event(event),
        "name": certificate.holder_name,
        "kind_label": verification.KIND_LABELS.get(certificate.kind, certificate.kind),
        "code": certificate.code,
        "verify_url": messaging.external_url("verify.certificate", code=certificate.code),
        "url": messaging.external_url("registration.page", token=token) if token else None,
    }
    return context, [messaging.Attachment(verification.download_name(certificate),
                                          "application/pdf", data)]
