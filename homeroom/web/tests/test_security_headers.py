"""Every page Homeroom renders carries the headers that keep student data in its place."""

import pytest

from homeroom.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_a_student_page_is_not_stored_framed_sniffed_or_scripted_from_elsewhere(cast, client):
    # given the admin, signed in
    client.login(username="admin", password=PASSWORD)
    # when Ana's page opens
    response = client.get(f"/students/{cast.ana.pk}/")
    # then no browser or proxy keeps a copy of it
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    # and the policy allows this server only: no inline script, no other origin
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in response["Content-Security-Policy"].split(";")
    )
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    # and the older headers are kept
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


@pytest.mark.parametrize("path", ["/", "/students/", "/warnings/", "/imports/"])
def test_every_page_says_no_store(cast, client, path):
    client.login(username="admin", password=PASSWORD)
    response = client.get(path)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


def test_static_files_are_cached_as_usual(client):
    # the stylesheet holds no student data: browsers may keep it
    response = client.get("/static/web/homeroom.css")
    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")
