"""The certificate pages: public verification (eventsys/web/verify.py) with its upload and
rate limits, the participant's downloads from /r/<token>
(eventsys/web/certificates_download.py) and the organisers' ZIP
(eventsys/web/manage_certificates_zip.py)."""
# ruff: noqa: F811  (the fixtures of tests/services/test_verification.py, imported by name)

from __future__ import annotations

import hashlib
import io
import zipfile
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventsys.extensions import db
from eventsys.models import utcnow
from eventsys.services import accounts, certificates, verification
from eventsys.services import registration as reg
from eventsys.services.errors import Throttled
from tests.conftest import csrf_from, login
from tests.services.test_verification import (  # noqa: F401  (fixtures)
    ayesha,
    file_of,
    participant,
    small_pdf,
    store_certificate,
    valid,
    workshop,
)


def page(response) -> str:
    return response.get_data(as_text=True)


def upload(client, code: str, data: bytes, *, filename: str = "certificate.pdf",
           with_csrf: bool = True, **environ):
    html = page(client.get(f"/verify/{code}", **environ))
    form = {"file": (io.BytesIO(data), filename)}
    if with_csrf:
        form["csrf_token"] = csrf_from(html)
    return client.post(f"/verify/{code}", data=form, content_type="multipart/form-data",
                       **environ)


@pytest.fixture(autouse=True)
def _generous_limits(app):
    """Most tests look codes up freely; the rate limit tests set their own."""
    app.config["VERIFY_LOOKUPS_PER_MINUTE"] = 0
    app.config["VERIFY_UPLOADS_PER_MINUTE"] = 0


# Looking up ----------------------------------------------------------------------------------

def test_the_form_to_type_a_code(client):
    response = client.get("/verify")
    assert response.status_code == 200
    assert 'name="code"' in page(response)
    assert client.get("/verify/").status_code == 200


def test_a_valid_certificate(client, valid):
    response = client.get(f"/verify/{valid.code}")
    html = page(response)
    assert response.status_code == 200
    assert "Valid" in html and "Revoked" not in html
    assert "Ayesha Siddiqui" in html and "عائشہ صدیقی" in html
    assert "Science Park Workshop" in html and "Certificate of completion" in html
    assert valid.code in html
    assert "p1@example.org" not in html and "NSTP" not in html  # nothing beyond the paper
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "noindex" in response.headers["X-Robots-Tag"]


def test_a_revoked_certificate_says_when_and_why(client, workshop, ayesha):
    old = store_certificate(workshop, ayesha, status="revoked", revoked_at=utcnow(),
                            revoked_reason="Name misspelt")
    html = page(client.get(f"/verify/{old.code}"))
    assert "Revoked" in html and "Name misspelt" in html and "revoked on" in html
    assert "corrected certificate" not in html
    new = store_certificate(workshop, ayesha, version=2)
    html = page(client.get(f"/verify/{old.code}"))
    assert "A corrected certificate was issued" in html and new.code not in html


def test_an_unknown_or_malformed_code(client, valid):
    for path in (f"/verify/{certificates.new_code()}", "/verify/nonsense",
                 "/verify/" + "A" * 5000, "/verify/%00%ff", "/verify/a/b/../../c",
                 "/verify/%E5%BC%A0%E4%BC%9F", "/verify?code=", "/verify?code=%00",
                 "/verify?code=" + "x" * 200):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "No certificate has this code" in page(response), path
        assert "Unknown" in page(response)


def test_a_typed_code_in_any_case_with_spaces_lands_on_its_page(client, valid):
    typed = " " + " ".join(valid.code.replace("-", "").lower()[i:i + 4]
                           for i in range(0, 20, 4)) + " "
    response = client.get("/verify", query_string={"code": typed})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/verify/{valid.code}")
    response = client.get(f"/verify/{quote(typed)}")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/verify/{valid.code}")
    assert client.get(f"/verify/{quote(typed)}", follow_redirects=True).status_code == 200


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(typed=st.text(min_size=1, max_size=120))
def test_any_code_at_all_is_answered_never_500(client, valid, typed):
    for response in (client.get(f"/verify/{quote(typed, safe='')}"),
                     client.get("/verify", query_string={"code": typed})):
        assert response.status_code in (200, 302, 308, 404), (typed, response.status_code)


# Uploading a PDF --------------------------------------------------------------------------------

def test_the_issued_pdf_is_identical(client, valid):
    response = upload(client, valid.code, file_of(valid).read_bytes())
    assert response.status_code == 200
    assert "Identical to the certificate issued on" in page(response)


def test_the_page_gives_the_files_fingerprint(client, valid):
    """Checked without uploading: the page's SHA-256 is the one of the file as issued."""
    html = page(client.get(f"/verify/{valid.code}"))
    assert hashlib.sha256(file_of(valid).read_bytes()).hexdigest() in html


def test_another_pdf_does_not_match(client, valid):
    response = upload(client, valid.code, small_pdf("Forged Ayesha Siddiqui"))
    assert response.status_code == 200
    assert "Does not match: this file is not the issued certificate" in page(response)


def test_the_issued_pdf_of_a_revoked_certificate(client, workshop, ayesha):
    old = store_certificate(workshop, ayesha, status="revoked", revoked_at=utcnow())
    html = page(upload(client, old.code, file_of(old).read_bytes()))
    assert "Identical" in html and "has been revoked" in html


def test_a_file_too_large_is_refused_before_it_is_read_whole(client, valid):
    big = b"%PDF-1.7\n" + b"0" * (verification.MAX_PDF_BYTES + 100 * 1024)
    response = upload(client, valid.code, big)
    assert response.status_code == 413
    assert "larger than 10 MB" in page(response)
    just_over = b"%PDF-1.7\n" + b"0" * verification.MAX_PDF_BYTES
    response = upload(client, valid.code, just_over)
    assert response.status_code == 413 and "larger than 10 MB" in page(response)


def test_not_a_pdf(client, valid):
    response = upload(client, valid.code, b"\x89PNG\r\n\x1a\n...", filename="photo.png")
    assert response.status_code == 400 and "not a PDF" in page(response)


def test_an_upload_needs_the_forms_token_and_a_file(client, valid):
    response = upload(client, valid.code, file_of(valid).read_bytes(), with_csrf=False)
    assert response.status_code == 400 and "Identical" not in page(response)
    html = page(client.get(f"/verify/{valid.code}"))
    response = client.post(f"/verify/{valid.code}", data={"csrf_token": csrf_from(html)})
    assert response.status_code == 400 and "Choose the certificate" in page(response)


def test_an_upload_for_an_unknown_code(client, valid):
    html = page(client.get(f"/verify/{valid.code}"))
    response = client.post("/verify/NOPE", data={
        "csrf_token": csrf_from(html), "file": (io.BytesIO(b"%PDF-1.4"), "x.pdf")},
        content_type="multipart/form-data")
    assert response.status_code == 404


# Rate limits ------------------------------------------------------------------------------------

def test_lookups_are_limited_per_client(app, client, valid):
    app.config["VERIFY_LOOKUPS_PER_MINUTE"] = 3
    me = {"environ_base": {"REMOTE_ADDR": "203.0.113.5"}}
    for path in (f"/verify/{valid.code}", "/verify/unknown", f"/verify/{valid.code}"):
        assert client.get(path, **me).status_code in (200, 404)
    # A typed code's redirect is not a lookup; the form itself is not either.
    assert client.get("/verify", query_string={"code": valid.code.lower()}, **me) \
        .status_code == 302
    assert client.get("/verify", **me).status_code == 200
    response = client.get(f"/verify/{valid.code}", **me)
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 20
    assert "Please wait" in page(response) and "Ayesha" not in page(response)
    assert client.get("/verify/unknown", **me).status_code == 429
    other = {"environ_base": {"REMOTE_ADDR": "203.0.113.6"}}
    assert client.get(f"/verify/{valid.code}", **other).status_code == 200


def test_uploads_are_limited_per_client(app, client, valid):
    app.config["VERIFY_UPLOADS_PER_MINUTE"] = 2
    me = {"environ_base": {"REMOTE_ADDR": "203.0.113.7"}}
    data = file_of(valid).read_bytes()
    for _ in range(2):
        assert upload(client, valid.code, data, **me).status_code == 200
    response = upload(client, valid.code, data, **me)
    assert response.status_code == 429 and response.headers["Retry-After"]
    assert client.get(f"/verify/{valid.code}", **me).status_code == 200  # looking is fine


def test_throttled_is_a_service_error_with_a_wait():
    assert issubclass(Throttled, Exception) and Throttled("x", 5).retry_after == 5


# The participant's downloads --------------------------------------------------------------------

@pytest.fixture
def token(ayesha):
    token = reg.mint_token(ayesha.id)
    db.session.commit()
    return token


def test_the_participant_page_lists_and_serves_their_certificates(client, workshop, ayesha,
                                                                  token, valid):
    html = page(client.get(f"/r/{token}"))
    url = f"/r/{token}/certificates/{valid.id}.pdf"
    assert "Your certificates" in html and url in html and valid.code in html
    response = client.get(url)
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.data == file_of(valid).read_bytes()
    assert response.headers["Content-Disposition"] == \
        'attachment; filename="cert-workshop-completion-certificate.pdf"'
    assert response.headers["Cache-Control"] == "no-store"


def test_no_certificates_no_section(client, token):
    assert "Your certificates" not in page(client.get(f"/r/{token}"))


def test_another_registrations_certificate_is_not_found(client, workshop, token):
    other = store_certificate(workshop, participant(workshop, 2))
    assert client.get(f"/r/{token}/certificates/{other.id}.pdf").status_code == 404
    assert client.get(f"/r/{token}/certificates/999999.pdf").status_code == 404
    assert client.get(f"/r/{token}/certificates/0.pdf").status_code == 404
    assert client.get(f"/r/not-a-real-token-at-all/certificates/{other.id}.pdf") \
        .status_code == 404


def test_a_revoked_certificate_says_so_and_is_not_served(client, workshop, ayesha, token):
    revoked = store_certificate(workshop, ayesha, status="revoked", revoked_at=utcnow(),
                                revoked_reason="Withdrawn by the organisers")
    html = page(client.get(f"/r/{token}"))
    assert "Revoked on" in html and "Withdrawn by the organisers" in html
    assert f"/certificates/{revoked.id}.pdf" not in html
    assert client.get(f"/r/{token}/certificates/{revoked.id}.pdf").status_code == 410


# The organisers' ZIP ----------------------------------------------------------------------------

ZIP = "/manage/events/cert-workshop/certificates/completion/certificates.zip"


@pytest.fixture
def manager(make_user, workshop):
    make_user("manager@example.org", "Mei Manager")
    accounts.grant_event_role(workshop, "manager@example.org", "manager", actor=None)
    make_user("staff@example.org", "Zhao Lei")
    accounts.grant_event_role(workshop, "staff@example.org", "checkin", actor=None)
    make_user("stranger@example.org", "Stranger")
    db.session.commit()


def test_only_managers_get_the_zip(client, workshop, valid, manager):
    assert client.get(ZIP).status_code == 302  # to log in
    for email in ("stranger@example.org", "staff@example.org"):
        login(client, email)
        assert client.get(ZIP).status_code == 403, email
        client.post("/logout", data={"csrf_token": csrf_from(page(client.get("/")))})
    login(client, "manager@example.org")
    response = client.get(ZIP)
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert response.is_streamed
    assert 'filename="cert-workshop-completion-certificates.zip"' in \
        response.headers["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    (name,) = [n for n in archive.namelist() if n.endswith(".pdf")]
    assert name == f"Ayesha-Siddiqui-{valid.code}.pdf"
    assert archive.read(name) == file_of(valid).read_bytes()


def test_the_zip_has_valid_ones_only_and_an_empty_kind_says_so(client, workshop, ayesha,
                                                               manager):
    store_certificate(workshop, ayesha, status="revoked", revoked_at=utcnow())
    login(client, "manager@example.org")
    response = client.get(ZIP)
    assert response.status_code == 404
    assert "No valid certificates of this kind" in page(response)
    assert client.get(ZIP.replace("completion", "nonsense")).status_code == 404
    current = store_certificate(workshop, ayesha, version=2)
    archive = zipfile.ZipFile(io.BytesIO(client.get(ZIP).data))
    assert [n for n in archive.namelist() if n.endswith(".pdf")] == \
        [f"Ayesha-Siddiqui-{current.code}.pdf"]


def test_behind_a_proxy_each_visitor_has_their_own_limit(database_url, tmp_path, valid):
    """TRUSTED_PROXIES=1 (nginx in front): the limit counts the address the proxy saw, not
    the proxy's own, so one busy scanner does not lock everyone else out."""
    from eventsys import create_app
    from tests.conftest import base_config

    behind = create_app(base_config(tmp_path / "proxied", database_url, TRUSTED_PROXIES=1,
                                    VERIFY_LOOKUPS_PER_MINUTE=2))
    client = behind.test_client()
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    url = f"/verify/{valid.code}"
    db.session.commit()  # SQLite: the other app's connection must be able to read
    for _ in range(2):
        assert client.get(url, environ_base=proxy,
                          headers={"X-Forwarded-For": "198.51.100.1"}).status_code == 200
    assert client.get(url, environ_base=proxy,
                      headers={"X-Forwarded-For": "198.51.100.1"}).status_code == 429
    assert client.get(url, environ_base=proxy,
                      headers={"X-Forwarded-For": "198.51.100.2"}).status_code == 200
    with behind.app_context():
        from eventsys.extensions import db as behind_db
        behind_db.engine.dispose()
