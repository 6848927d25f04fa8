def test_home_lists_published_upcoming_and_past(client, make_event):
    make_event("forum-next", title="Next Forum")
    make_event("secret-draft", title="Secret Draft", status="draft")
    make_event("old-forum", title="Old Forum", days_ahead=-500)
    page = client.get("/").get_data(as_text=True)
    assert "Next Forum" in page and "Old Forum" in page
    assert "Secret Draft" not in page


def test_event_page(client, make_event):
    make_event("forum-next", title="Next Forum", theme="Digital economy")
    page = client.get("/events/forum-next").get_data(as_text=True)
    assert "Next Forum" in page and "Digital economy" in page and "Beijing" in page
    assert "Great Wall Enterprise Institute" in page and "Asia/Shanghai" in page


def test_draft_and_unknown_events_are_404(client, make_event):
    make_event("secret-draft", status="draft")
    assert client.get("/events/secret-draft").status_code == 404
    response = client.get("/events/does-not-exist")
    assert response.status_code == 404 and "no such event" in response.get_data(as_text=True)


def test_user_text_is_escaped(client, make_event):
    make_event("xss", title="<script>alert(1)</script>", description="<img src=x onerror=alert(1)>")
    page = client.get("/events/xss").get_data(as_text=True)
    assert "<script>alert(1)" not in page and "&lt;script&gt;" in page
    assert "<img src=x" not in page


def test_security_headers(client):
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_no_cdn_assets(client):
    page = client.get("/").get_data(as_text=True)
    assert "http://" not in page.split("<body")[0] and "https://" not in page.split("<body")[0]
    assert client.get("/static/vendor/pico/pico.min.css").status_code == 200
