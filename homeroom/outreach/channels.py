"""How a message leaves Homeroom: the SMS provider adapter and email through SMTP.

The first SMS provider shape is Twilio's Messages API (docs/outreach.md): a form POST to
`/2010-04-01/Accounts/{AccountSid}/Messages.json` with `To`, `From` (or
`MessagingServiceSid`), `Body` and `StatusCallback`, HTTP basic auth with the account SID
and auth token; status callbacks and inbound messages come back as form posts signed with
`X-Twilio-Signature`. Credentials come from settings (`HOMEROOM_SMS`), never the repository.

A send either returns the provider's id for the message or raises `TemporaryFailure`
(worth retrying later: the network, a 429, a 5xx, an SMTP 4xx) or `PermanentFailure`.
"""

import base64
import hashlib
import hmac
import json
import re
import smtplib
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

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
