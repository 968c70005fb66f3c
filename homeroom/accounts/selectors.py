"""Reads about staff accounts: whether sign-in is locked for an account or an address.

The audit log is the record of failed sign-ins (`homeroom.accounts.actions`): a lock is
counted from it, so what locks an account is exactly what an administrator reads there.
"""

import datetime as dt

from django.conf import settings
from django.db.models import Max, Q
from django.utils import timezone

from homeroom.accounts.models import User
from homeroom.core.models import AuditEntry


def sign_in_subject(username: str) -> str:
    """How sign-in entries of the audit log name the account tried."""
    return f"sign-in as {username}"[:100]


def _failures_since_unlock(match: Q, since: dt.datetime) -> int:
    """Failed sign-ins matching `match` since `since` and since the last unlock of it."""
    unlocked = AuditEntry.objects.filter(match, action=AuditEntry.Action.UNLOCK).aggregate(
        last=Max("at")
    )["last"]
    start = max(since, unlocked) if unlocked else since
    return AuditEntry.objects.filter(
        match, action=AuditEntry.Action.LOGIN_FAILED, at__gt=start
    ).count()


def sign_in_locked(*, username: str, address: str | None) -> bool:
    """Whether sign-in as `username`, or from `address`, is locked: too many failures in a
    row within the lockout period, for the account (since its last successful sign-in) or
    for the address, and no unlock since."""
    since = timezone.now() - dt.timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES)
    subject = Q(subject=sign_in_subject(username))
    last_login = User.objects.filter(username=username).values_list("last_login", flat=True).first()
    account_since = max(since, last_login) if last_login else since
    if _failures_since_unlock(subject, account_since) >= settings.LOGIN_FAILURES:
        return True
    if address is None:
        return False
    return _failures_since_unlock(Q(address=address), since) >= settings.LOGIN_ADDRESS_FAILURES
