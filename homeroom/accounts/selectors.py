"""Reads about staff accounts: whether sign-in is locked for an account or an address.

The audit log is the record of failed sign-ins (`homeroom.accounts.actions`): a lock is
counted from it, so what locks an account is exactly what an administrator reads there.
"""

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Max, Q
from django.utils import timezone

from homeroom.accounts.models import User
from homeroom.core.models import AuditEntry, District


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


@dataclass(frozen=True)
class LockedSignIn:
    """An account (by username) or an address that may not sign in now, and until when."""

    account: str
    address: str
    until: dt.datetime


def locked_sign_ins(district: District) -> list[LockedSignIn]:
    """The district's accounts whose sign-in is locked now, then the locked addresses its
    accounts (or names no account holds) were tried from: what its administrator may unlock."""
    since = timezone.now() - dt.timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES)
    failures = AuditEntry.objects.filter(action=AuditEntry.Action.LOGIN_FAILED, at__gt=since)
    lockout = dt.timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES)
    by_subject = dict(
        failures.filter(district=district).values_list("subject").annotate(last=Max("at"))
    )
    locked = [
        LockedSignIn(account=name, address="", until=by_subject[subject] + lockout)
        for name in User.objects.filter(district=district).values_list("username", flat=True)
        if (subject := sign_in_subject(name)) in by_subject
        and sign_in_locked(username=name, address=None)
    ]
    addresses = failures.filter(Q(district=district) | Q(district=None), address__isnull=False)
    # an address's lock counts its failures at every account, the district's or not
    by_address = dict(
        failures.filter(address__in=addresses.values("address"))
        .values_list("address")
        .annotate(last=Max("at"))
    )
    locked += [
        LockedSignIn(account="", address=address, until=last + lockout)
        for address, last in by_address.items()
        if _failures_since_unlock(Q(address=address), since) >= settings.LOGIN_ADDRESS_FAILURES
    ]
    return sorted(locked, key=lambda lock: (lock.address, lock.account))
