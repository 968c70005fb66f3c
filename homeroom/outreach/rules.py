"""The rules every message keeps that need no database: keywords, quiet hours, addresses.

Who may be contacted on which channel is decided in actions.py (it reads the roster); the
pieces here are pure so each can be tested on its own.
"""

import datetime as dt
import re
import unicodedata
import zoneinfo

# Carrier keywords (CTIA practice, which Twilio's Advanced Opt-Out follows) and their usual
# equivalents in the languages Homeroom ships templates for. Matched on the whole reply,
# without case, accents or punctuation, so "Stop." and "dừng" count but "don't stop" does not.
STOP_WORDS = frozenset(
    {
        "stop", "stopall", "unsubscribe", "cancel", "end", "quit", "optout", "revoke",
        "alto", "parar", "basta", "cancelar",  # Spanish
        "dung", "huy",  # Vietnamese: dừng, hủy
        "停止", "退订", "取消",  # Chinese
        "توقف", "الغاء", "إلغاء",  # Arabic
        "jooji", "joogso",  # Somali
        "sispann", "kanpe",  # Haitian Creole
        "tigil", "hinto", "itigil",  # Tagalog
    }
)  # fmt: skip
START_WORDS = frozenset(
    {
        "start", "unstop", "yes", "subscribe",
        "iniciar", "comenzar",  # Spanish
        "batdau",  # Vietnamese: bắt đầu
        "开始",  # Chinese
        "ابدا", "ابدأ",  # Arabic
        "bilow",  # Somali
        "komanse",  # Haitian Creole
        "simulan",  # Tagalog
    }
)  # fmt: skip


def _plain(text: str) -> str:
    """Lower case, accents and punctuation and spaces removed (đ read as d)."""
    text = unicodedata.normalize("NFKD", text.strip().casefold().replace("đ", "d"))
    return "".join(c for c in text if not unicodedata.combining(c) and (c.isalnum()))


def keyword_of(body: str) -> str | None:
    """ "stop" or "start" when a reply is one of those keywords, else None."""
    word = _plain(body)
    if word in {_plain(w) for w in STOP_WORDS}:
        return "stop"
    if word in {_plain(w) for w in START_WORDS}:
        return "start"
    return None


def next_allowed(at: dt.datetime, *, timezone: str, start: dt.time, end: dt.time) -> dt.datetime:
    """`at`, or the end of the quiet hours it falls in (from `start` to `end`, local time)."""
    local = at.astimezone(zoneinfo.ZoneInfo(timezone))
    clock = local.time()
    if start > end:  # overnight, e.g. 20:00-08:00
        quiet = clock >= start or clock < end
        day = local.date() + dt.timedelta(days=1) if clock >= start else local.date()
    else:  # within a day, e.g. 12:00-13:00
        quiet = start <= clock < end
        day = local.date()
    if not quiet:
        return at
    wake = dt.datetime.combine(day, end, tzinfo=zoneinfo.ZoneInfo(timezone))
    return wake.astimezone(dt.UTC)


def normal_phone(phone: str) -> str:
    """A phone number as E.164 ("+15551234567"); US numbers may omit the country code.

    Empty when the text holds no usable number.
    """
    digits = re.sub(r"\D", "", phone)
    if phone.strip().startswith("+") and 8 <= len(digits) <= 15:
        return f"+{digits}"
    if len(digits) == 10:
        return f"+1{digits}"
    if len(digits) == 11 and digits.startswith("1"):
        return f"+{digits}"
    return ""


def household_of(*, guardian_id: int, address_line: str, postal_code: str) -> str:
    """The key of a guardian's household: their street address, else the guardian alone."""
    street = " ".join(address_line.casefold().split())
    if street and postal_code.strip():
        return f"{street}|{postal_code.strip()[:5]}"
    return f"guardian:{guardian_id}"
