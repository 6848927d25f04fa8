from sqlalchemy import select

from eventsys.extensions import db
from eventsys.models import OutboxMessage
from eventsys.services import accounts
from tests.conftest import login


def test_admin_reads_mail_written_to_files(client, make_user):
    admin = make_user("admin@example.org")
    admin.is_admin = True
    db.session.commit()
    make_user("nino@example.org", name="Nino <b>Beridze</b>")
    accounts.request_password_reset("nino@example.org")
    message = db.session.scalar(select(OutboxMessage))
    login(client, "admin@example.org")
    listing = client.get("/admin/mail").get_data(as_text=True)
    assert "nino@example.org" in listing and "Choose a new password" in listing
    assert "<b>Beridze</b>" not in listing
    page = client.get(f"/admin/mail/{message.id}").get_data(as_text=True)
    assert "/password/reset/" in page and message.message_id.strip("<>") in page
    html = client.get(f"/admin/mail/{message.id}/html")
    assert html.status_code == 200
    assert html.headers["Content-Security-Policy"].startswith("sandbox")


def test_mail_view_is_for_admins_only(client, make_user):
    make_user()
    login(client, "someone@example.org")
    assert client.get("/admin/mail").status_code == 403
    assert client.get("/admin/mail/1").status_code == 403


def test_unknown_message_is_404(client, make_user):
    admin = make_user("admin@example.org")
    admin.is_admin = True
    db.session.commit()
    login(client, "admin@example.org")
    assert client.get("/admin/mail/999").status_code == 404
