"""The organiser's certificate pages (eventsys/web/manage_certificates.py): who may open
them, the rule's form, overrides, issuing to the job's progress page, revoking and
re-issuing, the warning for names the fonts cannot draw, and bad input refused with a 4xx."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from eventsys.extensions import db
from eventsys.models import Certificate, CertificateTemplate, Job, Registration
from eventsys.services import accounts, agenda, attendance, certificates
from eventsys.services import registration as reg
from eventsys.services.agenda import SessionData
from eventsys.services.registration import RegistrationInput
from tests.conftest import csrf_from, login, submit

SLUG = "spw"
BASE = f"/manage/events/{SLUG}/certificates"


def person(event, n: int, **kw) -> Registration:
    out = reg.register(event, RegistrationInput(f"p{n}@example.org",
                                                kw.pop("name", f"Person {n}"), "in_person",
                                                **kw))
    return db.session.get(Registration, out.registration_id)


def page(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def manager(make_user):
    return make_user("manager@example.org", "Mei Manager")


@pytest.fixture
def workshop(make_event, manager, make_user):
    """Two lectures; Person 0 and 1 at both, Person 2 at one."""
    event = make_event(SLUG, creator=manager, kind="workshop", days=1, mode="in_person",
                       title="Science Park Workshop")
    reg.set_capacities(event, {"in_person": None}, actor=None)
    make_user("staff@example.org", "Zhao Lei")
    accounts.grant_event_role(event, "staff@example.org", "checkin", actor=manager)
    make_user("stranger@example.org", "Stranger")
    people = [person(event, 0, name_native="عائشہ"), person(event, 1), person(event, 2)]
    for n in range(2):
        start = datetime.combine(event.start_date, datetime.min.time()).replace(hour=9 + n)
        session = agenda.create_session(event, SessionData(
            f"Lecture {n}", "lecture", start, start + timedelta(hours=1)), actor=None)
        attendance.mark(event, session, [p.id for p in people[:3 - n]], present=True,
                        staff=None)
    return event


@pytest.fixture
def as_manager(client, workshop):
    login(client, "manager@example.org")
    return client


def test_only_managers_open_the_pages(client, workshop):
    assert client.get(BASE).status_code == 302  # to the login page
    assert client.post(f"{BASE}/completion/issue").status_code in (302, 400)
    for email in ("staff@example.org", "stranger@example.org"):
        client.get("/logout")
        login(client, email)
        assert client.get(BASE).status_code == 403
        assert client.get(f"{BASE}/speaker").status_code == 403
        html = page(client.get("/manage/"))
        assert client.post(f"{BASE}/completion/issue",
                           data={"csrf_token": csrf_from(html)}).status_code == 403
    assert db.session.scalar(select(Job.id)) is None


def test_the_page_explains_who_is_eligible_and_why_not(as_manager, workshop):
    html = page(as_manager.get(BASE))  # a workshop: completion first
    assert "Eligible: a confirmed registration; an attendance rate of at least 80 %." in html
    assert "attended 1 of 2 sessions (50 %), needs 80 %" in html
    assert "Issue 2 certificates" in html
    assert 'aria-current="page">Certificates' in html.replace("\n", "")
    for kind in ("participation", "speaker", "organiser"):
        assert as_manager.get(f"{BASE}/{kind}").status_code == 200
    assert as_manager.get(f"{BASE}/nonsense").status_code == 404
    assert as_manager.get("/manage/events/no-such-event/certificates").status_code == 404
    html = page(as_manager.get(f"{BASE}/completion?show=not_eligible"))
    assert "Person 2" in html and "Person 0" not in html
    assert as_manager.get(f"{BASE}/completion?show=%00bad").status_code == 200


def test_the_rule_form_saves_and_refuses_bad_input(as_manager, workshop):
    url = f"{BASE}/completion/rule"
    for bad in ("abc", "0", "101", "٣٠٠", "1_0", "1" * 50):
        response = submit(as_manager, url, {"enabled": "y", "min_rate": bad}, page=BASE)
        assert response.status_code == 400, bad
    response = submit(as_manager, url, {"enabled": "y", "min_rate": "50",
                                        "sessions": ["999999"]}, page=BASE)
    assert response.status_code == 400
    response = submit(as_manager, url, {"enabled": "y", "min_rate": "50",
                                        "sessions": ["1 OR 1=1"]}, page=BASE)
    assert response.status_code == 400
    response = submit(as_manager, url, {"enabled": "y", "min_rate": "\uff15\uff10"}, page=BASE)
    assert response.status_code == 302  # full-width, as a Chinese input method types it
    template = db.session.scalar(select(CertificateTemplate))
    assert template.rule["min_rate"] == 50 and template.enabled
    assert "Issue 3 certificates" in page(as_manager.get(BASE))
    response = submit(as_manager, url, {"min_rate": "50"}, page=BASE)  # switched off
    assert response.status_code == 302
    html = page(as_manager.get(BASE))
    assert "This event does not give this certificate." in html and "Issue 3" not in html
    assert as_manager.post(url, data={"min_rate": "50"}).status_code == 400  # no CSRF


def test_include_and_exclude_with_a_note(as_manager, workshop):
    url = f"{BASE}/completion/override"
    third = db.session.scalar(select(Registration).where(Registration.email == "p2@example.org"))
    response = submit(as_manager, url, {"registration": str(third.id), "decision": "include",
                                        "note": "field trip counted"}, page=BASE)
    assert response.status_code == 302
    html = page(as_manager.get(BASE))
    assert "Included by hand (Mei Manager): field trip counted" in html
    assert "Issue 3 certificates" in html
    for data in ({"registration": str(third.id), "decision": "maybe"},
                 {"registration": "x", "decision": "include"},
                 {"decision": "include"},
                 {"registration": str(third.id), "decision": "include", "note": "n" * 301}):
        assert submit(as_manager, url, data, page=BASE).status_code == 400, data
    assert submit(as_manager, url, {"registration": "999999", "decision": "include"},
                  page=BASE).status_code == 400
    # Refused with the reason in words, on the page.
    for data, message in (
            ({"note": "n" * 301}, "Note: Field cannot be longer than 300 characters."),
            ({"note": "late\x00"}, "characters that are not allowed"),
            ({"registration": "9999999999"}, "Number must be between 1 and 2147483647.")):
        response = submit(as_manager, url, {"registration": str(third.id),
                                             "decision": "include", **data}, page=BASE)
        assert response.status_code == 400 and message in page(response), data


def test_issue_goes_to_the_progress_page_then_revoke_and_reissue(as_manager, workshop):
    response = submit(as_manager, f"{BASE}/completion/issue", {}, page=BASE)
    assert response.status_code == 302
    job_url = response.headers["Location"]
    assert re.fullmatch(rf"/manage/events/{SLUG}/jobs/\d+", job_url)
    job_page = page(as_manager.get(job_url))
    assert "Issuing certificates" in job_page and f'href="{BASE}"' in job_page
    assert re.search(r'Certificates made</dt><dd data-field="made">\d+</dd>', job_page)
    progress = as_manager.get(job_url + ".json").get_json()
    assert (progress["made"], progress["total"], progress["percent"]) == (2, 2, 100)
    html = page(as_manager.get(BASE))
    assert "Nothing to issue now." in html
    # Issuing again: nothing to do, said on the page.
    response = submit(as_manager, f"{BASE}/completion/issue", {}, page=BASE,
                      follow_redirects=True)
    assert "everyone eligible has this certificate already" in page(response)

    first = db.session.scalars(select(Certificate).order_by(Certificate.id)).first()
    assert first.code in html
    revoke = f"{BASE}/issued/{first.id}/revoke"
    assert submit(as_manager, revoke, {"reason": ""}, page=BASE).status_code == 400
    too_long = submit(as_manager, revoke, {"reason": "x" * 301}, page=BASE)
    assert too_long.status_code == 400 and "longer than 300" in page(too_long)
    second = db.session.scalars(select(Certificate).order_by(Certificate.id)).all()[1]
    response = submit(as_manager, f"{BASE}/issued/{second.id}/reissue", {}, page=BASE)
    assert response.status_code == 302
    response = submit(as_manager, revoke, {"reason": "issued by mistake"}, page=BASE)
    assert response.status_code == 302
    html = page(as_manager.get(BASE))
    assert "issued by mistake" in html and "Replaced by version 2." in html
    assert submit(as_manager, revoke, {"reason": "again"}, page=BASE).status_code == 409
    assert submit(as_manager, f"{BASE}/issued/999999/revoke", {"reason": "x"},
                  page=BASE).status_code == 404
    assert as_manager.post(f"{BASE}/issued/{second.id}/reissue").status_code == 400


def test_a_valid_certificate_of_a_cancelled_registration_stays_in_sight(as_manager, workshop,
                                                                      manager):
    """Cancelled after the certificate was issued: it still verifies as valid, so the
    organiser sees it (and may revoke it); a revoked holder's row says so."""
    submit(as_manager, f"{BASE}/completion/issue", {}, page=BASE)
    issued = db.session.scalars(select(Certificate).order_by(Certificate.id)).all()
    gone = db.session.get(Registration, issued[0].registration_id)
    reg.cancel(gone.id, actor=manager, by_participant=False)
    html = page(as_manager.get(f"{BASE}/completion"))
    stray = html.split("Valid, but no longer among the people above", 1)[1]
    assert issued[0].code in stray and f"/issued/{issued[0].id}/revoke" in stray
    response = submit(as_manager, f"{BASE}/issued/{issued[0].id}/revoke",
                      {"reason": "cancelled"}, page=BASE)
    assert response.status_code == 302
    html = page(as_manager.get(f"{BASE}/completion"))
    assert "Valid, but no longer among" not in html
    submit(as_manager, f"{BASE}/issued/{issued[1].id}/revoke", {"reason": "typo"}, page=BASE)
    assert "Revoked (see below) · issuing gives a new version" in page(
        as_manager.get(f"{BASE}/completion"))


def test_the_list_shown_is_kept_after_a_revoke_and_organisers_start_from_everyone(
        as_manager, workshop):
    submit(as_manager, f"{BASE}/completion/issue", {}, page=BASE)
    first = db.session.scalars(select(Certificate).order_by(Certificate.id)).first()
    response = submit(as_manager, f"{BASE}/issued/{first.id}/revoke?show=issued",
                      {"reason": "typo"}, page=f"{BASE}/completion?show=issued")
    assert response.status_code == 302 and response.location.endswith(
        "/completion?show=issued")
    response = submit(as_manager, f"{BASE}/issued/{first.id}/revoke?show=<x>",
                      {"reason": "again"}, page=BASE)
    assert "show" not in response.headers.get("Location", "")
    # Speakers: a few among many, so the list starts from those eligible; while nobody is,
    # from everyone, so that someone can be included by hand.
    assert '<option value="all" selected>' in page(as_manager.get(f"{BASE}/speaker"))
    certificates.set_override(workshop, "speaker", first.registration_id, True, "chaired",
                              actor=None)
    assert '<option value="eligible" selected>' in page(as_manager.get(f"{BASE}/speaker"))


def test_another_events_certificate_is_out_of_reach(as_manager, workshop, make_event,
                                                    manager):
    other = make_event("other", creator=manager)
    reg.set_capacities(other, {"in_person": None, "online": None}, actor=None)
    person(other, 5)
    certificates.update_rule(other, "participation", certificates.Rule(), actor=None)
    certificates.issue(other, "participation", actor=None)
    theirs = db.session.scalar(select(Certificate).where(Certificate.event_id == other.id))
    response = submit(as_manager, f"{BASE}/issued/{theirs.id}/revoke", {"reason": "x"},
                      page=BASE)
    assert response.status_code == 404
    db.session.refresh(theirs)
    assert theirs.status == "valid"


def test_names_the_fonts_cannot_draw_are_named_before_issuing(as_manager, workshop):
    person(workshop, 7, name="Budi Santoso", name_native="ꦧꦸꦢꦶ")  # Javanese script
    certificates.update_rule(workshop, "completion", certificates.Rule(), actor=None)
    html = page(as_manager.get(BASE))
    assert "The fonts cannot draw some characters of these names" in html
    assert "ꦧꦸꦢꦶ" in html
    assert "عائشہ" not in html.split("The fonts cannot draw")[1].split("</ul>")[0]


def test_the_page_costs_the_same_queries_for_any_number_of_people(as_manager, workshop,
                                                                 count_queries):
    def queries() -> int:
        count_queries["n"] = 0
        assert as_manager.get(BASE).status_code == 200
        return count_queries["n"]

    certificates.issue(workshop, "completion", actor=None)
    before = queries()
    sessions = attendance.counting_sessions(workshop)
    more = [person(workshop, n) for n in range(10, 40)]
    for session in sessions:
        attendance.mark(workshop, session, [p.id for p in more], present=True, staff=None)
    certificates.set_override(workshop, "completion", more[0].id, False, "no", actor=None)
    certificates.issue(workshop, "completion", actor=None)
    certificates.revoke(db.session.scalars(select(Certificate)).first(), "mistake",
                        actor=None)
    assert queries() == before
