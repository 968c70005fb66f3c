"""Writes about staff accounts: failed and refused sign-ins, unlocking sign-in, language.

Each is an audit entry (homeroom/core/models.py, `AuditEntry`): the lockout is counted from
them (`homeroom.accounts.selectors.sign_in_locked`).
"""

from django.conf import settings

from homeroom.accounts.models import User
from homeroom.accounts.selectors import sign_in_subject
from homeroom.core.actions import CommandLine, do_log_district_change
from homeroom.core.models import AuditEntry


def _sign_in_entry(*, action: str, username: str, address: str | None) -> AuditEntry:
    account = User.objects.filter(username=username).first()
    return AuditEntry.objects.create(
        user=account,
        district_id=account.district_id if account else None,
        action=action,
        subject=sign_in_subject(username),
        address=address,
        access_reason="" if account else "no such account",
    )


def do_record_failed_sign_in(*, username: str, address: str | None) -> AuditEntry:
    """A wrong password (or an unknown or deactivated account) at the sign-in form."""
    return _sign_in_entry(action=AuditEntry.Action.LOGIN_FAILED, username=username, address=address)


def do_record_locked_sign_in(*, username: str, address: str | None) -> AuditEntry:
    """A sign-in refused unchecked, because the account or the address is locked."""
    return _sign_in_entry(action=AuditEntry.Action.LOGIN_LOCKED, username=username, address=address)


def do_unlock_sign_in(
    *,
    username: str | None = None,
    address: str | None = None,
    user: User | None = None,
    via: CommandLine | None = None,
) -> AuditEntry:
    """Unlock sign-in for an account or an address now, by `user` or a command; failures
    before this no longer count towards a lock."""
    if (username is None) == (address is None):
        raise ValueError("unlock either an account or an address")
    account = User.objects.filter(username=username).first() if username else None
    entry = do_log_district_change(
        user=user,
        via=via,
        district=account.district if account else None,
        action=AuditEntry.Action.UNLOCK,
        subject=sign_in_subject(username) if username else f"sign-in from {address}",
    )
    if address:
        entry.address = address
        entry.save(update_fields=["address"])
    return entry


def do_set_language(*, user: User, language: str) -> None:
    """Show Homeroom to `user` in `language` (a code of settings.LANGUAGES) from now on."""
    if language not in dict(settings.LANGUAGES):
        raise ValueError(f"Homeroom is not translated into {language!r}")
    user.language = language
    user.save(update_fields=["language"])
