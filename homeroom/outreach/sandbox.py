"""A local SMS provider speaking Twilio's Messages API shape, for tests, demos and benchmarks.

It runs on 127.0.0.1 and implements what Homeroom uses of the real API:

- `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` (HTTP basic auth with the account
  SID and auth token; form fields `To`, `From` or `MessagingServiceSid`, `Body`,
  `StatusCallback`) answers 201 with the message's JSON (`sid`, `status`: "queued", ...);
  a request repeating an idempotency key answers with the first message and sends nothing
  (unless made with `honours_keys=False`: a provider without idempotency, sending each);
- then, if a `StatusCallback` was given, posts `MessageSid`, `MessageStatus` ("sent", then
  "delivered"), `To`, `From`, `AccountSid` to it, signed with `X-Twilio-Signature`;
- `GET /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json` answers one message (404
  when it holds no such SID), and `GET .../Messages.json?To=&PageSize=&Page=` the
  account's messages, newest first, a page at a time with `next_page_uri`, each with its
  `date_created` in RFC 2822 form as Twilio writes it: what `channels.find_sms` asks;
- `send_inbound` posts a family's text (`From`, `To`, `Body`, `MessageSid`, signed) to
  Homeroom's inbound webhook, as the provider does when a family replies;
- `fail_next(n, status)` makes the next n sends fail with that HTTP status (429, 503);
- `hold_next()` makes the next send wait, taken by neither side yet, until released: a
  request in flight while its worker is stopped.

Every message it accepts is appended to `delivered` (and, if given, to a JSON-lines log
file, which survives the worker that sent it: the benchmarks count it).
"""

import base64
import datetime as dt
import email.utils
import json
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from homeroom.outreach.channels import IDEMPOTENCY_HEADER, twilio_signature

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "sandbox-auth-token"
FROM_NUMBER = "+15550000100"


class Hold:
    """A request kept waiting by a local server: `arrived` is set when it comes in, and it
    goes on once `release` is set (at most a minute later, so a failing test ends)."""

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self.release = threading.Event()

    def wait(self) -> None:
        self.arrived.set()
        self.release.wait(60)


class LocalSmsProvider:
    """The server and what it received; start() it, read `delivered`, stop() it."""

    def __init__(
        self,
        *,
        account_sid: str = ACCOUNT_SID,
        auth_token: str = AUTH_TOKEN,
        log_path: Path | None = None,
        callbacks: bool = True,
        honours_keys: bool = True,
    ) -> None:
        self.account_sid = account_sid
        self.honours_keys = honours_keys
        self.auth_token = auth_token
        self.log_path = log_path
        self.callbacks = callbacks
        self.delivered: list[dict] = []
        self.callback_answers: list[int] = []
        self._by_key: dict[str, dict] = {}
        self._failures: list[int] = []
        self._holds: list[Hold] = []
        self._lock = threading.Lock()
        self._callback_threads: list[threading.Thread] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "LocalSmsProvider":
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.wait_for_callbacks()
        self._server.shutdown()
        self._server.server_close()

    def settings(self, *, public_url: str = "", idempotent: bool = True) -> dict:
        """HOMEROOM_SMS settings pointing Homeroom at this provider."""
        return {
            "API_URL": self.url,
            "ACCOUNT_SID": self.account_sid,
            "AUTH_TOKEN": self.auth_token,
            "FROM": FROM_NUMBER,
            "PUBLIC_URL": public_url,
            "IDEMPOTENT": idempotent,
        }

    def fail_next(self, count: int, status: int = 503) -> None:
        with self._lock:
            self._failures.extend([status] * count)

    def hold_next(self) -> Hold:
        """The next send waits before the provider takes it, until `release` is set."""
        hold = Hold()
        with self._lock:
            self._holds.append(hold)
        return hold

    def wait_for_callbacks(self, timeout: float = 10) -> None:
        for thread in list(self._callback_threads):
            thread.join(timeout)

    def send_inbound(
        self, webhook_url: str, *, sender: str, body: str, to: str = FROM_NUMBER
    ) -> int:
        """Post a family's text to Homeroom's inbound webhook, signed; returns the HTTP status."""
        fields = {
            "AccountSid": self.account_sid,
            "MessageSid": "SM" + secrets.token_hex(16),
            "From": sender,
            "To": to,
            "Body": body,
            "NumMedia": "0",
        }
        return self._post_signed(webhook_url, fields)

    def _post_signed(self, url: str, fields: dict[str, str]) -> int:
        request = urllib.request.Request(
            url,
            data=urllib.parse.urlencode(fields).encode(),
            headers={"X-Twilio-Signature": twilio_signature(url, fields, self.auth_token)},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    def _accept(self, fields: dict[str, str], key: str) -> tuple[int, dict]:
        with self._lock:
            if self._failures:
                status = self._failures.pop(0)
                return status, {"code": 20500 if status >= 500 else 20429, "message": "Try later"}
            if key and key in self._by_key and self.honours_keys:
                return 200, self._by_key[key]
            missing = [name for name in ("To", "Body") if not fields.get(name)]
            if missing or not (fields.get("From") or fields.get("MessagingServiceSid")):
                return 400, {"code": 21604, "message": f"Missing {missing or ['From']}"}
            record = {
                "sid": "SM" + secrets.token_hex(16),
                "account_sid": self.account_sid,
                "to": fields["To"],
                "from": fields.get("From") or fields.get("MessagingServiceSid"),
                "body": fields["Body"],
                "status": "queued" if self.callbacks else "sent",
                "idempotency_key": key,
                "received_at": time.time(),
                "date_created": email.utils.format_datetime(dt.datetime.now(dt.UTC)),
            }
            self._by_key[key] = record
            self.delivered.append(record)
            if self.log_path:
                with self.log_path.open("a", encoding="utf-8") as log:
                    log.write(json.dumps(record) + "\n")
        if self.callbacks and fields.get("StatusCallback"):
            thread = threading.Thread(
                target=self._report, args=(fields["StatusCallback"], record), daemon=True
            )
            self._callback_threads.append(thread)
            thread.start()
        return 201, record

    def _report(self, url: str, record: dict) -> None:
        for status in ("sent", "delivered"):
            record["status"] = status
            answer = self._post_signed(
                url,
                {
                    "AccountSid": self.account_sid,
                    "MessageSid": record["sid"],
                    "MessageStatus": status,
                    "To": record["to"],
                    "From": record["from"],
                },
            )
            self.callback_answers.append(answer)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet: tests read `delivered`
                pass

            def _answer(self, status: int, payload: dict) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                path = f"/2010-04-01/Accounts/{provider.account_sid}/Messages.json"
                if self.path != path:
                    return self._answer(404, {"code": 20404, "message": "Not found"})
                expected = f"{provider.account_sid}:{provider.auth_token}".encode()
                login = self.headers.get("Authorization", "")
                if login != "Basic " + base64.b64encode(expected).decode():
                    return self._answer(401, {"code": 20003, "message": "Authenticate"})
                length = int(self.headers.get("Content-Length", "0"))
                fields = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                with provider._lock:
                    hold = provider._holds.pop(0) if provider._holds else None
                if hold is not None:
                    hold.wait()
                status, payload = provider._accept(fields, self.headers.get(IDEMPOTENCY_HEADER, ""))
                self._answer(status, payload)

            def do_GET(self) -> None:
                if not self._signed_in():
                    return self._answer(401, {"code": 20003, "message": "Authenticate"})
                path, _, query = self.path.partition("?")
                base = f"/2010-04-01/Accounts/{provider.account_sid}/Messages"
                if path == f"{base}.json":
                    return self._answer(200, provider._page(base, query))
                if path.startswith(f"{base}/") and path.endswith(".json"):
                    sid = path[len(base) + 1 : -len(".json")]
                    found = provider._message(sid)
                    if found is not None:
                        return self._answer(200, found)
                return self._answer(404, {"code": 20404, "message": "Not found"})

            def _signed_in(self) -> bool:
                expected = f"{provider.account_sid}:{provider.auth_token}".encode()
                login = self.headers.get("Authorization", "")
                return login == "Basic " + base64.b64encode(expected).decode()

        return Handler

    def _message(self, sid: str) -> dict | None:
        with self._lock:
            return next((dict(record) for record in self.delivered if record["sid"] == sid), None)

    def _page(self, base: str, query: str) -> dict:
        """One page of the account's messages, newest first, filtered by `To` if given."""
        asked = dict(urllib.parse.parse_qsl(query))
        size = max(1, min(int(asked.get("PageSize", "50")), 1000))
        number = int(asked.get("Page", "0"))
        with self._lock:
            records = [dict(record) for record in reversed(self.delivered)]
        if asked.get("To"):
            records = [record for record in records if record["to"] == asked["To"]]
        chunk = records[number * size : (number + 1) * size]
        following = None
        if (number + 1) * size < len(records):
            following = f"{base}.json?" + urllib.parse.urlencode(
                {**asked, "Page": number + 1, "PageToken": f"PA{number + 1}"}
            )
        return {
            "messages": chunk,
            "page": number,
            "page_size": size,
            "uri": f"{base}.json?{query}",
            "next_page_uri": following,
        }


def post_inbound_email(webhook_url: str, fields: dict[str, str]) -> int:
    """Post an email to Homeroom's inbound-email webhook as an inbound-parse service does
    (SendGrid's Inbound Parse: multipart/form-data with `from`, `to`, `subject`, `text`,
    `headers`); returns the HTTP status."""
    boundary = "homeroom-" + secrets.token_hex(8)
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n'
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{value}\r\n"
        for name, value in fields.items()
    ]
    request = urllib.request.Request(
        webhook_url,
        data=("".join(parts) + f"--{boundary}--\r\n").encode(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
