"""How a message leaves Homeroom: the SMS provider adapter and email through SMTP.

The first SMS provider shape is Twilio's Messages API (docs/outreach.md): a form POST to
`/2010-04-01/Accounts/{AccountSid}/Messages.json` with `To`, `From` (or
`MessagingServiceSid`), `Body` and `StatusCallback`, HTTP basic auth with the account SID
and auth token; status callbacks and inbound messages come back as form posts signed with
`X-Twilio-Signature`. Credentials come from settings (`HOMEROOM_SMS`), never the repository.

A send either returns the provider's id for the message or raises `TemporaryFailure`
(worth retrying later: the network, a 429, a 5xx, an SMTP 4xx) or `PermanentFailure`.

`find_sms` asks the provider whether it holds a text (Twilio's Message resource by its SID,
or the account's message list filtered by `To`): how a text whose send was interrupted is
settled (docs/outreach.md, "Sends to check"). Email has no such log to ask: SMTP servers
keep none a sender can read.
"""

import base64
import datetime as dt
import hashlib
import hmac
import json
import re
import smtplib
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from homeroom.outreach.templates import RIGHT_TO_LEFT

MAILER = "families"  # settings.MAILERS: the district's SMTP server
IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"


class TemporaryFailure(Exception):
    """The provider could not take the message now; the same send may succeed later."""


class PermanentFailure(Exception):
    """The provider refused the message; sending it again would fail again."""


def twilio_signature(url: str, params: dict[str, str], auth_token: str) -> str:
    """Twilio's webhook signature: HMAC-SHA1 of the URL and the sorted fields, in base64."""
    data = url + "".join(f"{key}{params[key]}" for key in sorted(params))
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def signature_is_valid(url: str, params: dict[str, str], signature: str) -> bool:
    """Whether a webhook's `X-Twilio-Signature` was made with the district's auth token."""
    token = sms_settings().auth_token
    if not token or not signature:
        return False
    return hmac.compare_digest(twilio_signature(url, params, token), signature)


@dataclass(frozen=True)
class SmsSettings:
    """The SMS account, from settings.HOMEROOM_SMS (docs/outreach.md)."""

    api_url: str
    account_sid: str
    auth_token: str
    sender: str
    public_url: str
    idempotent: bool

    @property
    def configured(self) -> bool:
        return bool(self.account_sid and self.auth_token and self.sender)


def sms_settings() -> SmsSettings:
    raw = getattr(settings, "HOMEROOM_SMS", {})
    return SmsSettings(
        api_url=raw.get("API_URL", "https://api.twilio.com").rstrip("/"),
        account_sid=raw.get("ACCOUNT_SID", ""),
        auth_token=raw.get("AUTH_TOKEN", ""),
        sender=raw.get("FROM", ""),
        public_url=raw.get("PUBLIC_URL", "").rstrip("/"),
        idempotent=bool(raw.get("IDEMPOTENT", False)),
    )


def send_sms(*, to: str, body: str, key: str, status_callback: str) -> str:
    """Send one text through the provider; returns its message SID."""
    account = sms_settings()
    if not account.configured:
        raise TemporaryFailure("No SMS account is set up (HOMEROOM_SMS_* settings).")
    fields = {"To": to, "Body": body}
    sender = "MessagingServiceSid" if account.sender.startswith("MG") else "From"
    fields[sender] = account.sender
    if status_callback:
        fields["StatusCallback"] = status_callback
    url = f"{account.api_url}/2010-04-01/Accounts/{account.account_sid}/Messages.json"
    login = base64.b64encode(f"{account.account_sid}:{account.auth_token}".encode()).decode()
    request = urllib.request.Request(
        url,
        data=urllib.parse.urlencode(fields).encode(),
        headers={
            "Authorization": f"Basic {login}",
            "Content-Type": "application/x-www-form-urlencoded",
            IDEMPOTENCY_HEADER: key,
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as error:
        detail = _error_detail(error)
        if error.code == 429 or error.code >= 500:
            raise TemporaryFailure(f"HTTP {error.code}: {detail}") from error
        raise PermanentFailure(f"HTTP {error.code}: {detail}") from error
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        raise TemporaryFailure(f"The SMS provider did not answer: {error}") from error
    return answer["sid"]


@dataclass(frozen=True)
class ProviderRecord:
    """A text as the provider holds it: its SID, its status, and when the provider took it."""

    sid: str
    status: str
    created: dt.datetime | None


class NotKnown(Exception):
    """The provider does not know the message id Homeroom holds for a text."""


# At most this many pages of the account's list are read for one text; a number texted
# more often than that since the message was decided is left for staff to check by hand.
LOOKUP_PAGES = 10
LOOKUP_PAGE_SIZE = 100
# The provider's clock and ours may differ a little: a record this much older than the
# decision still counts.
CLOCK_SKEW = dt.timedelta(minutes=2)


def _get_json(path_and_query: str) -> dict:
    account = sms_settings()
    if not account.configured:
        raise TemporaryFailure("No SMS account is set up (HOMEROOM_SMS_* settings).")
    login = base64.b64encode(f"{account.account_sid}:{account.auth_token}".encode()).decode()
    request = urllib.request.Request(
        f"{account.api_url}{path_and_query}", headers={"Authorization": f"Basic {login}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        if error.code == 404:
            raise NotKnown(_error_detail(error)) from error
        raise TemporaryFailure(f"HTTP {error.code}: {_error_detail(error)}") from error
    except (urllib.error.URLError, TimeoutError, ConnectionError, ValueError) as error:
        raise TemporaryFailure(f"The SMS provider did not answer: {error}") from error


def _record(raw: dict) -> ProviderRecord:
    created = None
    if raw.get("date_created"):
        created = parsedate_to_datetime(raw["date_created"])
    return ProviderRecord(sid=raw["sid"], status=raw.get("status", ""), created=created)


def find_sms(
    *, to: str, body: str, since: dt.datetime, provider_id: str = "", skip: frozenset = frozenset()
) -> ProviderRecord | None:
    """The provider's record of a text to `to` with these words, taken no earlier than
    `since` (the decision to send it), or None when the provider's log holds none.

    With a `provider_id`, that message is fetched (`NotKnown` if the provider has no such
    id). Without one, the account's messages to `to` are read newest first until they are
    older than `since`; records whose SID is in `skip` (other messages' ids) are passed
    over, and of several matches the earliest is the one the worker sent. Raises
    `TemporaryFailure` when the provider cannot be asked, or when more than
    `LOOKUP_PAGES` pages would have to be read (the answer would not be complete).
    """
    account = sms_settings()
    base = f"/2010-04-01/Accounts/{account.account_sid}/Messages"
    if provider_id:
        return _record(_get_json(f"{base}/{urllib.parse.quote(provider_id)}.json"))
    query = urllib.parse.urlencode({"To": to, "PageSize": LOOKUP_PAGE_SIZE})
    page_uri: str | None = f"{base}.json?{query}"
    earliest = since - CLOCK_SKEW
    found = None
    for _ in range(LOOKUP_PAGES):
        if page_uri is None:
            return found
        page = _get_json(page_uri)
        for raw in page.get("messages", []):
            record = _record(raw)
            if record.created is not None and record.created < earliest:
                return found  # newest first: the rest are older still
            sender_matches = account.sender.startswith("MG") or raw.get("from") == account.sender
            if raw.get("body") == body and sender_matches and record.sid not in skip:
                found = record  # keep reading: an earlier match is the first send
        page_uri = page.get("next_page_uri")
    if page_uri is None:
        return found
    raise TemporaryFailure(
        f"More than {LOOKUP_PAGES * LOOKUP_PAGE_SIZE} texts to {to} since the message was "
        "decided: check the provider's log by hand."
    )


def _error_detail(error: urllib.error.HTTPError) -> str:
    try:
        answer = json.loads(error.read())
    except ValueError:
        return error.reason
    return f"error {answer.get('code', '?')}: {answer.get('message', error.reason)}"


def email_message_id(key: str) -> str:
    """The Message-ID of the email sent under an idempotency key; a family's reply names it
    in its In-Reply-To and References headers, which is how the reply finds its thread.
    (Keys hold no dots, so the colons they hold can be written as dots and read back.)"""
    return f"<{key.replace(':', '.')}@homeroom>"


def keys_replied_to(headers: str) -> list[str]:
    """The idempotency keys of our emails that a reply's raw headers name (In-Reply-To
    first, then References, newest first)."""
    import email.parser

    parsed = email.parser.HeaderParser().parsestr(headers or "")
    references = " ".join(reversed(parsed.get("References", "").split()))
    named = f"{parsed.get('In-Reply-To', '')} {references}"
    return [found.replace(".", ":") for found in re.findall(r"<([^<>@\s]+)@homeroom>", named)]


def send_email(
    *, to: str, subject: str, body: str, language: str, key: str, reply_to: str = ""
) -> str:
    """Send one email (text and HTML parts) through the district's SMTP server.

    Returns the Message-ID, made from the idempotency key so a receiving system can tell a
    second delivery of the same message apart.
    """
    message_id = email_message_id(key)
    html = render_to_string(
        "outreach/email.html",
        {"body": body, "language": language, "rtl": language in RIGHT_TO_LEFT, "subject": subject},
    )
    email = EmailMultiAlternatives(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        reply_to=[reply_to] if reply_to else None,
        headers={"Message-ID": message_id, "Content-Language": language},
    )
    email.attach_alternative(html, "text/html")
    try:
        email.send(using=MAILER)
    except smtplib.SMTPRecipientsRefused as error:
        codes = [code for code, _ in error.recipients.values()]
        if all(400 <= code < 500 for code in codes):
            raise TemporaryFailure(f"SMTP refused the recipient for now: {codes}") from error
        raise PermanentFailure(f"SMTP refused the recipient: {codes}") from error
    except smtplib.SMTPResponseException as error:
        if 400 <= error.smtp_code < 500:
            raise TemporaryFailure(f"SMTP {error.smtp_code}: {error.smtp_error!r}") from error
        raise PermanentFailure(f"SMTP {error.smtp_code}: {error.smtp_error!r}") from error
    except (smtplib.SMTPException, OSError) as error:
        raise TemporaryFailure(f"The SMTP server did not take the message: {error}") from error
    return message_id
