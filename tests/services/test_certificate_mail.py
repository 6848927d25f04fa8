"""The certificate mail (eventsys/services/certificate_mail.py): one per certificate, its
PDF attached as issued, a working link to the participant's page and the verification
link; never a PDF that is not the one issued, never a revoked certificate."""
# ruff: noqa: F811  (the fixtures of tests/services/test_verification.py, imported by name)

from __future__ import annotations

import re

from sqlalchemy import func, select

from eventsys.extensions import db
from eventsys.models import Certificate, OutboxMessage, Person, utcnow
from eventsys.services import certificate_mail, messaging
from tests.conftest import delivered, text_of
from tests.services.test_verification import (  # noqa: F401  (fixtures)
    ayesha,
    file_of,
    participant,
    store_certificate,
    valid,
    workshop,
)


def certificate_mails(to: str | None = None) -> list:
    return [m for m in delivered(to) if m["Subject"].startswith("Your certificate")]


def pdfs_of(message) -> list[tuple[str, bytes]]:
    return [(part.get_filename(), part.get_content()) for part in message.iter_attachments()
            if part.get_content_type() == "application/pdf"]


def test_the_mail_carries_the_pdf_and_both_links(app, client, workshop, valid):
    message_id = certificate_mail.queue(valid)
    db.session.commit()  # delivered after the commit (eagerly in tests)
    assert valid.message_id == message_id
    assert db.session.get(OutboxMessage, message_id).dedupe_key == f"certificate:{valid.id}"
    mails = certificate_mails("p1@example.org")
    assert len(mails) == 1
    mail = mails[0]
    assert mail["Subject"] == "Your certificate: Science Park Workshop"
    assert pdfs_of(mail) == [("cert-workshop-completion-certificate.pdf",
                              file_of(valid).read_bytes())]
    text = text_of(mail)
    assert "Certificate of completion" in text and valid.code in text
    assert f"http://eventsys.test/verify/{valid.code}" in text
    link = re.search(r"http://eventsys\.test(/r/[\w-]+)", text).group(1)
    page = client.get(link)
    assert page.status_code == 200
    assert f"/certificates/{valid.id}.pdf" in page.get_data(as_text=True)
    html = mail.get_body(("html",)).get_content()
    assert link in html and valid.code in html
    # Once sent, the stored copy keeps no live link.
    stored = db.session.get(OutboxMessage, message_id)
    db.session.refresh(stored)
    assert stored.status == "sent" and link not in stored.body_text


def test_queued_once_however_often_asked(app, workshop, ayesha, valid):
    assert certificate_mail.queue(valid) is not None
    db.session.commit()
    assert certificate_mail.queue(valid) is None
    assert certificate_mail.queue_many([valid]) == {}
    db.session.commit()
    assert len(certificate_mails("p1@example.org")) == 1


def test_a_batch_queues_one_mail_per_certificate(app, workshop):
    issued = [store_certificate(workshop, participant(workshop, n)) for n in range(1, 6)]
    issued.append(store_certificate(workshop, issued[0].registration, kind="participation"))
    queued = certificate_mail.queue_many(issued, job_id=None)
    db.session.commit()
    assert set(queued) == {c.id for c in issued}
    assert len(set(queued.values())) == len(issued)
    assert len(certificate_mails("p1@example.org")) == 2
    assert all(len(certificate_mails(f"p{n}@example.org")) == 1 for n in range(2, 6))


def test_a_tampered_file_is_never_sent(app, workshop, valid):
    app.config["OUTBOX_MAX_ATTEMPTS"] = 1
    path = file_of(valid)
    path.write_bytes(path.read_bytes().replace(b"Ayesha", b"Ayeshb"))
    message_id = certificate_mail.queue(valid)
    db.session.commit()
    assert certificate_mails() == []
    message = db.session.get(OutboxMessage, message_id)
    db.session.refresh(message)
    assert message.status == "failed"
    assert "SHA-256 does not match" in message.last_error and valid.code in message.last_error


def test_a_missing_file_waits_and_is_retried(app, workshop, valid):
    file_of(valid).unlink()
    message_id = certificate_mail.queue(valid)
    db.session.commit()
    message = db.session.get(OutboxMessage, message_id)
    db.session.refresh(message)
    assert message.status == "pending" and "missing" in message.last_error
    assert certificate_mails() == []


def test_revoked_before_it_went_the_mail_is_withdrawn(app, workshop, valid):
    message_id = certificate_mail.queue(valid)
    # As the issuer does it in one transaction: revoke, withdraw.
    valid.status, valid.revoked_at = "revoked", utcnow()
    assert certificate_mail.withdraw(valid)
    db.session.commit()
    assert certificate_mails() == []
    message = db.session.get(OutboxMessage, message_id)
    db.session.refresh(message)
    assert message.status == "cancelled"
    assert not certificate_mail.withdraw(valid)  # settled: nothing to withdraw


def test_a_revoked_certificate_is_not_queued_nor_rendered(app, workshop, ayesha):
    revoked = store_certificate(workshop, ayesha, status="revoked", revoked_at=utcnow())
    assert certificate_mail.queue(revoked) is None
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.kind == certificate_mail.TEMPLATE)) == 0


def test_a_speaker_who_did_not_register_gets_it_without_a_link(app, workshop):
    person = Person(name="Prof. Liu Yang", email="liu@example.org")
    db.session.add(person)
    db.session.commit()
    certificate = store_certificate(workshop, None, kind="speaker", person_id=person.id,
                                    holder_name="Liu Yang")
    certificate_mail.queue(certificate)
    db.session.commit()
    (mail,) = certificate_mails("liu@example.org")
    assert "/r/" not in text_of(mail) and certificate.code in text_of(mail)
    assert pdfs_of(mail)[0][1] == file_of(certificate).read_bytes()
    nobody = Person(name="No Address")
    db.session.add(nobody)
    db.session.commit()
    silent = store_certificate(workshop, None, kind="speaker", person_id=nobody.id)
    assert certificate_mail.queue(silent) is None


def test_the_mail_is_in_the_participants_language(app, workshop):
    chinese = participant(workshop, 7, locale="zh")
    certificate = store_certificate(workshop, chinese)
    message_id = certificate_mail.queue(certificate)
    db.session.commit()
    assert db.session.get(OutboxMessage, message_id).locale == "zh"


def test_rendering_reads_the_file_at_send_time(app, workshop, valid):
    message = OutboxMessage(template=certificate_mail.TEMPLATE, locale=None,
                            context={"certificate_id": valid.id, "token": None})
    rendered = messaging.render(message, db.session)
    assert rendered.subject == "Your certificate: Science Park Workshop"
    assert rendered.attachments[0].data == file_of(valid).read_bytes()
    db.session.delete(db.session.get(Certificate, valid.id))
    db.session.commit()
    try:
        messaging.render(message, db.session)
    except certificate_mail.CertificateFileError as exc:
        assert "no longer exists" in str(exc)
    else:
        raise AssertionError("rendered a mail for a certificate that is gone")
