"""The invitee's page, /invitations/<token>: accepting leads to the registration form filled
in, declining is recorded, a second click changes nothing, and a forged, withdrawn or
expired link is a clear 4xx page, never a 500."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from eventsys.extensions import db
from eventsys.models import Invitation, Registration
from eventsys.services import invitations
from eventsys.services.invitations import InviteeData
from tests.conftest import csrf_from, last_text, submit, tampered


@pytest.fixture
def forum(make_event):
    return make_event("forum", days=1)


def invite(event, email="guest@example.org", name="Ayesha Siddiqui", **kw) -> str:
    """Invite someone; the token of the link in their mail."""
    invitations.invite(event, InviteeData(email=email, name=name, **kw), actor=None)
    text = last_text(email, containing="/invitations/")
    return re.search(r"http://eventsys\.test/invitations/(\S+)", text).group(1)


def answer(client, token: str, choice: str):
    return submit(client, f"/invitations/{token}", {"answer": choice})


def invitation() -> Invitation:
    db.session.expire_all()
    return db.session.scalar(select(Invitation))


def page_of(response) -> str:
    return response.get_data(as_text=True)


def registration_form(email="guest@example.org", **kw) -> dict:
    data = {"name": "Ayesha Siddiqui", "name_native": "", "email": email,
            "organisation_name": "NSTP", "job_title": "Director", "country": "PK",
            "mode": "in_person"}
    data.update(kw)
    return data


def test_the_page_shows_the_invitation_privately(client, forum):
    token = invite(forum, role="speaker")
    response = client.get(f"/invitations/{token}")
    assert response.status_code == 200
    page = page_of(response)
    assert "Test Forum" in page and "Dear Ayesha Siddiqui" in page and "Speaker" in page
    assert 'value="accept"' in page and 'value="decline"' in page
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_accepting_leads_to_the_registration_form_filled_in(client, forum):
    token = invite(forum)
    response = answer(client, token, "accept")
    assert response.status_code == 302
    assert response.location.endswith(f"/events/forum/register?invitation={token}")
    assert invitation().status == "accepted" and invitation().answered_at is not None

    form_page = page_of(client.get(response.location))
    assert 'value="guest@example.org"' in form_page and 'value="Ayesha Siddiqui"' in form_page
    assert "Please complete your registration" in form_page
    registered = submit(client, response.location, registration_form(invitation=token))
    assert registered.status_code == 302 and "/r/" in registered.location
    assert db.session.scalar(select(Registration.invitation_id)) == invitation().id

    page = page_of(client.get(f"/invitations/{token}"))
    assert "You are registered" in page
    assert 'value="decline"' not in page and 'value="accept"' not in page


def test_a_second_click_on_accept_changes_nothing(client, app, forum):
    token = invite(forum)
    answer(client, token, "accept")
    first = invitation().answered_at
    again = answer(app.test_client(), token, "accept")
    assert again.status_code == 302
    assert invitation().status == "accepted" and invitation().answered_at == first

    submit(client, f"/events/forum/register?invitation={token}",
           registration_form(invitation=token))
    once_more = answer(client, token, "accept")
    assert once_more.status_code == 302 and once_more.location.endswith(f"/invitations/{token}")
    assert "You had accepted already." in page_of(client.get(once_more.location))
    assert db.session.query(Registration).count() == 1


def test_declining_after_registering_is_refused_with_a_message(client, forum):
    token = invite(forum)
    answer(client, token, "accept")
    submit(client, f"/events/forum/register?invitation={token}",
           registration_form(invitation=token))
    page = client.get(f"/invitations/{token}")
    response = client.post(f"/invitations/{token}", data={
        "answer": "decline", "csrf_token": csrf_from(page_of(page))})
    assert response.status_code == 409
    assert "You are registered for this event" in page_of(response)
    assert "cancel your registration" in page_of(response)
    assert invitation().status == "accepted"
    assert db.session.scalar(select(Registration.status)) == "confirmed"


def test_declining_then_changing_ones_mind(client, forum):
    token = invite(forum)
    response = answer(client, token, "decline")
    assert response.status_code == 302 and response.location.endswith(f"/invitations/{token}")
    page = page_of(client.get(response.location))
    assert "You have declined" in page and "you can still accept" in page
    assert invitation().status == "declined"
    assert "You had declined already." in page_of(
        client.get(answer(client, token, "decline").location))
    assert answer(client, token, "accept").status_code == 302
    assert invitation().status == "accepted"


@pytest.mark.parametrize("token", [
    "forged-token-forged-token-forged-token", "x", "a" * 600, "%00", "%E2%80%AE",
    "..%2F..%2Fetc%2Fpasswd", "' OR 1=1 --"])
def test_a_forged_or_mangled_link_is_a_404_page(client, forum, token):
    invite(forum)
    response = client.get(f"/invitations/{token}")
    assert response.status_code == 404
    assert "This invitation link is not valid" in page_of(response) or \
        "There is no page" in page_of(response)
    csrf = csrf_from(page_of(client.get("/login")))
    response = client.post(f"/invitations/{token}", data={"answer": "accept", "csrf_token": csrf})
    assert response.status_code == 404
    assert invitation().status == "open"


def test_a_link_with_one_character_changed_is_a_404(client, forum):
    token = invite(forum)
    changed = tampered(token)
    response = client.get(f"/invitations/{changed}")
    assert response.status_code == 404 and "not valid" in page_of(response)


def test_a_withdrawn_invitation_is_a_403_page(client, forum):
    token = invite(forum)
    invitation().status = "revoked"
    db.session.commit()
    response = client.get(f"/invitations/{token}")
    assert response.status_code == 403 and "withdrawn" in page_of(response)


def test_an_expired_invitation_is_a_403_page(client, make_event):
    past = make_event("past-forum", days_ahead=-10)
    token = invite(past)
    response = client.get(f"/invitations/{token}")
    assert response.status_code == 403 and "expired" in page_of(response)
    csrf = csrf_from(page_of(client.get("/login")))
    response = client.post(f"/invitations/{token}", data={"answer": "accept", "csrf_token": csrf})
    assert response.status_code == 403
    assert invitation().status == "open"


def test_an_answer_without_its_csrf_token_or_with_no_choice_is_a_400(client, forum):
    token = invite(forum)
    response = client.post(f"/invitations/{token}", data={"answer": "accept"})
    assert response.status_code == 400 and "The form has expired" in page_of(response)
    for choice in ("maybe", "", "accept\x00"):
        response = answer(client, token, choice)
        assert response.status_code == 400
        assert "Please choose to accept or to decline." in page_of(response)
    assert invitation().status == "open"


def test_accepting_an_invitation_to_an_unpublished_event_is_only_recorded(client, forum):
    token = invite(forum)
    forum.status = "draft"
    db.session.commit()
    response = answer(client, token, "accept")
    assert response.status_code == 302 and response.location.endswith(f"/invitations/{token}")
    assert "Thank you for accepting." in page_of(client.get(response.location))
    assert invitation().status == "accepted"
