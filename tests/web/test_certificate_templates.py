"""The certificate design page: only the event's managers, texts checked for placeholders,
images uploaded (checked, re-encoded) and removed, signatories, and the preview PDF for a
chosen participant or a sample one."""

from __future__ import annotations

import io
import re
from html import unescape

import pytest
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import select

from eventsys.extensions import db
from eventsys.models import CertificateTemplate
from eventsys.services import accounts, certificate_images, certificate_render
from eventsys.services import registration as reg
from tests.conftest import csrf_from, login

BASE = "/manage/events/workshop/certificates"
PAGE = f"{BASE}/completion/template"
PREVIEW = f"{BASE}/completion/preview.pdf"


def png(size=(300, 150), colour=(10, 40, 90, 255), fmt="PNG", mode="RGBA") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, colour if mode == "RGBA" else colour[:3]).save(out, fmt)
    return out.getvalue()


def pdf_text(data: bytes) -> str:
    return re.sub(r"\s+", "", "".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages))


@pytest.fixture
def workshop(make_event):
    event = make_event("workshop", kind="workshop", title="Science Park Workshop",
                       mode="in_person")
    reg.set_capacities(event, {"in_person": None}, actor=None)
    for email, name, native in [("ayesha@example.org", "Ayesha Siddiqui", "عائشہ صدیقی"),
                                ("milica@example.org", "Milica Jovanović", "Милица Јовановић")]:
        reg.register(event, reg.RegistrationInput(email, name, "in_person", name_native=native,
                                                  organisation_name="NSTP", country="PK"))
    return event


@pytest.fixture
def organiser(client, workshop, make_user):
    make_user("org@example.org", name="Li Na")
    accounts.grant_event_role(workshop, "org@example.org", "manager", actor=None)
    login(client, "org@example.org")
    return client


def form_data(page: str, **changes) -> dict:
    """What the browser sends back: the form's current values, then the changes."""
    data = {"csrf_token": csrf_from(page)}
    for name in ("heading", "page_size"):
        value = re.search(rf'name="{name}"[^>]*value="([^"]*)"', page) or \
            re.search(rf'name="{name}"[^>]*>\s*<option selected value="([^"]*)"', page)
        data[name] = unescape(value.group(1)) if value else ""
    for name in ("body", "footer"):
        data[name] = unescape(re.search(
            rf'name="{name}"[^>]*>\r?\n?(.*?)</textarea>', page, re.DOTALL).group(1))
    for row in range(certificate_render.MAX_SIGNATORIES):
        for field in ("name", "title", "signature"):
            value = re.search(rf'name="signatories-{row}-{field}"[^>]*value="([^"]*)"', page)
            data[f"signatories-{row}-{field}"] = unescape(value.group(1)) if value else ""
    data.update(changes)
    return data


def save(client, **changes):
    page = client.get(PAGE).get_data(as_text=True)
    return client.post(PAGE, data=form_data(page, **changes),
                       content_type="multipart/form-data")


def stored(workshop) -> CertificateTemplate | None:
    db.session.expire_all()
    return db.session.scalar(select(CertificateTemplate).where(
        CertificateTemplate.event_id == workshop.id, CertificateTemplate.kind == "completion"))


def test_only_the_events_managers_see_the_design(client, workshop, make_user):
    assert client.get(PAGE).status_code == 302  # to the login page
    make_user("other@example.org")
    login(client, "other@example.org")
    assert client.get(PAGE).status_code == 403
    assert client.get(PREVIEW).status_code == 403
    assert client.post(PAGE, data={}).status_code in (400, 403)


def test_the_page_shows_the_default_design_and_the_placeholders(organiser):
    page = organiser.get(PAGE).get_data(as_text=True)
    assert 'value="Certificate of Completion"' in page
    assert "{event}" in page and "{attended}" in page and "{name_native}" in page
    assert "Ayesha Siddiqui" in page  # in the preview's list
    assert f'src="{PREVIEW}"' in page
    assert organiser.get(f"{BASE}/honorary/template").status_code == 404


def test_saving_the_texts(organiser, workshop):
    response = save(organiser, heading="Certificate of Training",
                    body="completed {event} in {cities}, attending {attended}.",
                    footer="Jointly run by {cities} parks", page_size="A4 portrait")
    assert response.status_code == 302
    template = stored(workshop)
    assert template.heading == "Certificate of Training"
    assert template.body == "completed {event} in {cities}, attending {attended}."
    assert template.page_size == "A4 portrait"
    assert "The design is saved" in organiser.get(PAGE).get_data(as_text=True)


def test_an_unknown_placeholder_is_refused_with_the_known_ones(organiser, workshop):
    response = save(organiser, body="Dear {nmae}, you completed {event}")
    assert response.status_code == 400
    page = unescape(response.get_data(as_text=True))
    assert "{nmae} is not a placeholder" in page and "{organisation}" in page
    assert "Dear {nmae}" in page  # what they typed stays in the form
    assert stored(workshop) is None
    assert save(organiser, body="{0.__class__}").status_code == 400
    assert save(organiser, heading="").status_code == 400
    assert save(organiser, page_size="A0").status_code == 400
    assert save(organiser, body="x" * 2001).status_code == 400
    # What no font can draw would print as boxes on every certificate: refused.
    for changes in ({"body": "completed {event} 🎉"}, {"heading": "Certificate ✅"},
                    {"signatories-0-name": "Prof. Zhao 🖋"}):
        response = save(organiser, **changes)
        assert response.status_code == 400, changes
        assert "These characters cannot be printed" in unescape(response.get_data(
            as_text=True)), changes
    assert stored(workshop) is None


def test_logos_background_and_signatures(organiser, workshop):
    response = save(organiser, new_logo=(io.BytesIO(png()), "logo.png"),
                    new_background=(io.BytesIO(png((900, 600), mode="RGB", fmt="JPEG")),
                                    "paper.jpg"),
                    **{"signatories-0-name": "Prof. Li Wei",
                       "signatories-0-title": "Director",
                       "signatories-0-new_signature": (io.BytesIO(png((400, 120))), "sig.png"),
                       "signatories-1-name": "Dr. Sara Khan"})
    assert response.status_code == 302
    template = stored(workshop)
    assert len(template.logos) == 1 and template.background.endswith(".jpg")
    assert [s["name"] for s in template.signatories] == ["Prof. Li Wei", "Dr. Sara Khan"]
    signature = template.signatories[0]["signature"]
    page = organiser.get(PAGE).get_data(as_text=True)
    for name in (*template.logos, template.background, signature):
        url = f"{BASE}/images/{name}"
        assert url in page
        image = organiser.get(url)
        assert image.status_code == 200 and image.mimetype in ("image/png", "image/jpeg")
    # The preview prints them.
    preview = organiser.get(PREVIEW)
    assert preview.status_code == 200 and preview.mimetype == "application/pdf"
    assert b"/Subtype /Image" in preview.data or b"/Subtype/Image" in preview.data
    # A second logo; then remove the first, the background and the signature.
    assert save(organiser, new_logo=(io.BytesIO(png(colour=(200, 0, 0, 255))), "b.png")
                ).status_code == 302
    first = template.logos[0]
    assert save(organiser, remove_logos=[first], remove_background="y",
                **{"signatories-0-remove_signature": "y"}).status_code == 302
    template = stored(workshop)
    assert first not in template.logos and len(template.logos) == 1
    assert template.background is None and template.signatories[0]["signature"] is None
    assert organiser.get(f"{BASE}/images/{first}").status_code == 404  # no longer used


def test_a_bad_image_is_a_clear_400_and_nothing_is_saved(organiser, workshop):
    for upload, message in [
            ((io.BytesIO(b"%PDF-1.4 not an image"), "logo.png"), "not an image we can read"),
            ((io.BytesIO(png(fmt="GIF", mode="RGB")), "logo.gif"), "PNG or a JPEG"),
            ((io.BytesIO(b"\x89PNG" + b"x" * certificate_images.MAX_BYTES), "big.png"),
             "too large")]:
        response = save(organiser, heading="Changed", new_logo=upload)
        assert response.status_code == 400, message
        assert message in unescape(response.get_data(as_text=True))
        assert stored(workshop) is None


def test_a_signature_of_another_template_cannot_be_borrowed(organiser, workshop, make_event):
    other = make_event("other")
    secret = certificate_images.store(png((500, 100), colour=(1, 2, 3, 255)), "signature")
    certificate_render.save_template(other, "completion", certificate_render.TemplateChanges(
        heading="Other", body="x", footer="", page_size="A4 landscape",
        signatories=[certificate_render.Signatory("Someone", signature=secret)]), actor=None)
    assert save(organiser, **{"signatories-0-name": "Me", "signatories-0-signature": secret}
                ).status_code == 302
    assert stored(workshop).signatories == [{"name": "Me", "title": "", "signature": None}]
    assert organiser.get(f"{BASE}/images/{secret}").status_code == 404
    assert organiser.get(f"{BASE}/images/..%2F..%2Fconfig.py").status_code == 404


def test_default_texts_again(organiser, workshop):
    save(organiser, heading="Mine", body="mine {event}")
    page = organiser.get(PAGE).get_data(as_text=True)
    response = organiser.post(PAGE, data={**form_data(page), "action": "reset"},
                              content_type="multipart/form-data")
    assert response.status_code == 302
    assert stored(workshop).heading == "Certificate of Completion"


def test_the_preview_for_a_chosen_participant(organiser, workshop):
    registrations = {r.name: r for r in workshop_registrations(workshop)}
    ayesha = registrations["Ayesha Siddiqui"]
    response = organiser.get(f"{PREVIEW}?registration={ayesha.id}")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Disposition"].startswith("inline")
    text = pdf_text(response.data)
    assert "AyeshaSiddiqui" in text and "PREVIEW" in text
    assert certificate_render.PREVIEW_CODE in text
    milica = registrations["Milica Jovanović"]
    assert "MilicaJovanović" in pdf_text(
        organiser.get(f"{PREVIEW}?holder=r{milica.id}").data)
    # Nobody chosen: the first eligible participant, or a sample one.
    assert organiser.get(PREVIEW).status_code == 200
    for bad in ("abc", "-1", "1" * 40, "²"):
        assert organiser.get(f"{PREVIEW}?registration={bad}").status_code == 400
    assert organiser.get(f"{PREVIEW}?registration=999999").status_code == 404
    for too_big in ("registration=9999999999", "person=2147483648", "holder=r9999999999",
                    "holder=p2147483648", "registration=0"):  # no row has such an id
        assert organiser.get(f"{PREVIEW}?{too_big}").status_code == 404, too_big


def test_the_preview_of_a_hostile_name_is_text(organiser, workshop):
    hostile = '<img src="file:///etc/passwd">'
    reg.register(workshop, reg.RegistrationInput("h@example.org", hostile, "in_person",
                                                 organisation_name="http://169.254.169.254/"))
    registration = next(r for r in workshop_registrations(workshop) if r.name == hostile)
    response = organiser.get(f"{PREVIEW}?registration={registration.id}")
    assert response.status_code == 200
    assert re.sub(r"\s+", "", hostile) in pdf_text(response.data)
    assert "root:" not in pdf_text(response.data)


def test_a_sample_holder_when_nobody_is_eligible(organiser, workshop):
    page = organiser.get(f"{BASE}/speaker/template").get_data(as_text=True)
    assert "Certificate of Presentation" in page
    response = organiser.get(f"{BASE}/speaker/preview.pdf")
    assert response.status_code == 200
    assert "AnaSample" in pdf_text(response.data)


def workshop_registrations(workshop):
    from eventsys.models import Registration

    return db.session.scalars(select(Registration).where(
        Registration.event_id == workshop.id)).all()
