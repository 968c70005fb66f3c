"""Homeroom served the production way docs/deployment.md gives: waitress with the documented
arguments and settings, behind a TLS proxy (played here by the request's headers)."""

import os
import re
import shlex
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from homeroom.core.tests.test_deployment import DOCS, documented_settings

HOST = "homeroom.district.example.org"


def documented_server_arguments() -> list[str]:
    """The arguments of the waitress-serve line in docs/deployment.md's service unit."""
    text = DOCS.read_text(encoding="utf-8")
    line = re.search(r"^ExecStart=\S*waitress-serve (.*)$", text, re.M)
    assert line, "docs/deployment.md has the server's ExecStart line"
    return shlex.split(line[1])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def get(port: int, path: str, https: bool = True):
    """A request as the proxy passes it on: the client's host, and the scheme it used."""
    headers = {"Host": HOST} | ({"X-Forwarded-Proto": "https"} if https else {})
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    opener = urllib.request.build_opener(NoRedirect)
    try:
        return opener.open(request, timeout=120)
    except urllib.error.HTTPError as response:  # a redirect, not followed
        return response


# The server runs on a database of its own, of the kind the tests use (SQLite, or
# PostgreSQL when DATABASE_URL names it), so the module runs in both halves of ./dev test.
pytestmark = pytest.mark.django_db


class Served(int):
    """The port served on, and the URL of the database behind it."""

    def __new__(cls, port: int, database: str):
        served = super().__new__(cls, port)
        served.database = database
        return served


@pytest.fixture(scope="module")
def served_database(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[str]:
    """An empty database for the server: a new PostgreSQL database beside the tests' own,
    dropped after the module, or a new SQLite file."""
    with django_db_blocker.unblock():
        settings = connection.settings_dict
        vendor = connection.vendor
    if vendor != "postgresql":
        yield f"sqlite:///{tmp_path_factory.mktemp('served-db') / 'homeroom.sqlite3'}"
        return
    server = f"postgresql://{settings['USER']}@{settings['HOST']}:{settings['PORT'] or 5432}"
    name = f"{settings['NAME']}_served"
    maintenance = f"--maintenance-db={server}/postgres"
    subprocess.run(["dropdb", "--if-exists", maintenance, name], check=True)
    subprocess.run(["createdb", maintenance, name], check=True)
    try:
        yield f"{server}/{name}"
    finally:
        subprocess.run(["dropdb", "--force", maintenance, name], check=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory, served_database):
    """waitress-serve started with the documented arguments and settings, after the
    documented migrate and collectstatic; stopped after the module's tests."""
    tmp_path = tmp_path_factory.mktemp("served")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HOMEROOM_", "DATABASE_", "DJANGO_"))
    }
    env |= documented_settings() | {
        "HOMEROOM_DATA_DIR": str(tmp_path),
        "DATABASE_URL": served_database,
        "PYTHONPATH": str(Path(__file__).resolve().parents[3]),
    }
    homeroom = [sys.executable, "-m", "homeroom"]
    for command in (["migrate", "--verbosity", "0"], ["collectstatic", "--noinput", "-v", "0"]):
        subprocess.run(homeroom + command, env=env, check=True, capture_output=True)
    port = free_port()
    arguments = [
        f"--listen=127.0.0.1:{port}" if a.startswith("--listen=") else a
        for a in documented_server_arguments()
    ]
    waitress = Path(sys.executable).with_name("waitress-serve")
    process = subprocess.Popen(
        [str(waitress), *arguments],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        get(port, "/login/")  # the first request loads the application: not timed by tests
        yield Served(port, served_database)
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_documented_server_serves_pages_with_the_production_headers(server):
    # when the proxy passes on a request the client made over HTTPS
    response = get(server, "/login/")
    # then the sign-in page comes, with HSTS, the policy and no-store
    assert response.status == 200
    assert "Sign in to Homeroom" in response.read().decode()
    assert response.headers["Strict-Transport-Security"] == (
        "max-age=31536000; includeSubDomains; preload"
    )
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert "no-store" in response.headers["Cache-Control"]
    assert "Secure" in response.headers["Set-Cookie"]  # the CSRF cookie


def test_plain_http_is_sent_to_https(server):
    response = get(server, "/login/", https=False)
    assert response.status == 301
    assert response.headers["Location"] == f"https://{HOST}/login/"


def test_static_files_are_served_and_cached(server):
    response = get(server, "/static/web/homeroom.css")
    assert response.status == 200
    assert "no-store" not in response.headers.get("Cache-Control", "")
    assert "text/css" in response.headers["Content-Type"]


def test_an_unknown_host_is_refused(server):
    request = urllib.request.Request(
        f"http://127.0.0.1:{server}/login/",
        headers={"Host": "evil.example", "X-Forwarded-Proto": "https"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=120)
    assert refused.value.code == 400


def test_a_failed_sign_in_is_audited_with_the_address_the_proxy_saw(server):
    # given the sign-in form, fetched as a browser would (its CSRF cookie and token)
    form = get(server, "/login/")
    cookie = form.headers["Set-Cookie"].split(";")[0]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.read().decode())[1]
    # when a wrong password comes through the proxy from 198.51.100.7
    body = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": token, "username": "nobody", "password": "wrong"}
    ).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{server}/login/",
        data=body,
        headers={
            "Host": HOST,
            "X-Forwarded-Proto": "https",
            "X-Forwarded-For": "198.51.100.7",
            "Origin": f"https://{HOST}",
            "Referer": f"https://{HOST}/login/",
            "Cookie": cookie,
        },
    )
    answer = urllib.request.urlopen(request, timeout=120)
    # then it is refused, and the trail names that address
    assert answer.status == 200 and "Please enter a correct username" in answer.read().decode()
    query = "SELECT action, subject, address FROM core_auditentry"
    if server.database.startswith("sqlite:///"):
        with sqlite3.connect(server.database.removeprefix("sqlite:///")) as database:
            rows = database.execute(query).fetchall()
    else:
        with psycopg.connect(server.database) as database:
            rows = [(a, s, str(ip)) for a, s, ip in database.execute(query).fetchall()]
    assert rows == [("login_failed", "sign-in as nobody", "198.51.100.7")]


def test_a_server_process_has_its_views_loaded_before_the_first_request():
    # given a new process that loads the WSGI application, as waitress-serve does
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, homeroom.wsgi; "
            "print(all(m in sys.modules for m in "
            "('homeroom.web.dashboards', 'homeroom.web.views', 'scipy.stats')))",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "homeroom.settings"},
    )
    # then the pages' code is imported already: the first visitor does not wait for it
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "True"
