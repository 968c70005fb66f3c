"""Sign-in lockout: per account and per address, audited, and unlocked by an administrator."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from homeroom.conftest import PASSWORD
from homeroom.core.models import AuditEntry

pytestmark = pytest.mark.django_db

LOCKED = "Too many failed sign-ins for this account or from this address"


def sign_in(client, username: str, password: str, address: str = "10.0.0.7"):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


def signed_in(response) -> bool:
    return response.status_code == 302 and response.wsgi_request.user.is_authenticated


def test_thirty_wrong_passwords_lock_the_account_even_against_the_right_one(cast, client):
    # when the district administrator's password is guessed wrong 30 times
    answers = [sign_in(client, "admin", f"guess-{n}") for n in range(30)]
    # then the first five are checked and refused, the rest refused unchecked as locked
    assert all(response.status_code == 200 for response in answers)
    assert [LOCKED in response.text for response in answers] == [False] * 5 + [True] * 25
    # and the right password is refused too, while the lock lasts
    right = sign_in(client, "admin", PASSWORD)
    assert not signed_in(right) and LOCKED in right.text
    # and every failure and refusal is in the audit log, with the account and address
    entries = AuditEntry.objects.filter(subject="sign-in as admin")
    actions = list(entries.order_by("pk").values_list("action", flat=True))
    assert actions == ["login_failed"] * 5 + ["login_locked"] * 26
    assert set(entries.values_list("address", flat=True)) == {"10.0.0.7"}
    assert set(entries.values_list("district", flat=True)) == {cast.district.pk}


def test_an_administrator_unlocks_the_account_and_the_right_password_works(cast, client):
    # given a locked account
    for n in range(5):
        sign_in(client, "admin", f"guess-{n}")
    assert LOCKED in sign_in(client, "admin", PASSWORD).text
    # when an administrator unlocks it on the server
    output = io.StringIO()
    call_command("unlock", "--user", "admin", stdout=output)
    # then the right password signs in, and the unlock is in the audit log
    assert signed_in(sign_in(client, "admin", PASSWORD))
    unlock = AuditEntry.objects.get(action=AuditEntry.Action.UNLOCK)
    assert (unlock.command, unlock.subject) == ("homeroom unlock", "sign-in as admin")
    assert "Sign-in unlocked for admin." in output.getvalue()


def test_a_successful_sign_in_starts_the_count_again(cast, client):
    for n in range(4):
        sign_in(client, "admin", f"guess-{n}")
    assert signed_in(sign_in(client, "admin", PASSWORD))
    client.logout()
    for n in range(4):  # four more: not five in a row
        sign_in(client, "admin", f"guess-{n}")
    assert signed_in(sign_in(client, "admin", PASSWORD))


def test_one_address_trying_many_accounts_is_locked_for_all_of_them(cast, client):
    # given 20 wrong passwords from one address, spread over accounts real and not
    names = ["teacher", "viewer", "nobody", "principal"] * 5
    for name in names:
        sign_in(client, name, "wrong", address="203.0.113.9")
    # then that address may not sign in even as another account with its password
    assert LOCKED in sign_in(client, "counselor", PASSWORD, address="203.0.113.9").text
    # but the counselor signs in from their own address
    assert signed_in(sign_in(client, "counselor", PASSWORD, address="10.0.0.8"))
    # and the unknown account's failures are logged, with no district
    unknown = AuditEntry.objects.filter(subject="sign-in as nobody")
    assert unknown.count() == 5 and set(unknown.values_list("district", flat=True)) == {None}


def test_unlocking_an_address_lets_it_sign_in_again(cast, client):
    for n in range(20):
        sign_in(client, f"user{n}", "wrong", address="203.0.113.9")
    call_command("unlock", "--address", "203.0.113.9", stdout=io.StringIO())
    assert signed_in(sign_in(client, "counselor", PASSWORD, address="203.0.113.9"))


def test_behind_a_proxy_the_address_is_the_one_the_proxy_saw(cast, client, settings):
    # given Homeroom behind a proxy, which appends the client's address
    settings.BEHIND_PROXY = True
    client.post(
        "/login/",
        {"username": "admin", "password": "wrong"},
        REMOTE_ADDR="127.0.0.1",
        HTTP_X_FORWARDED_FOR="198.51.100.1, 192.0.2.44",
    )
    # then the failure names the address the proxy saw, not what the client claimed
    assert AuditEntry.objects.get().address == "192.0.2.44"


def test_unlocking_an_unknown_account_is_refused_in_one_line(cast):
    with pytest.raises(CommandError, match="no account is named 'ghost'"):
        call_command("unlock", "--user", "ghost")


def test_the_administrator_sees_locked_sign_ins_and_unlocks_one_on_the_audit_page(cast, client):
    # given the teacher's account locked, and an address locked by guesses at other names
    for n in range(5):
        sign_in(client, "teacher", f"guess-{n}")
    for n in range(20):
        sign_in(client, f"user{n}", "wrong", address="203.0.113.9")
    # when the district administrator opens the audit page
    client.force_login(cast.admin)
    page = client.get("/audit/").text
    # then both locks are listed, each with its button
    assert "Unlock teacher" in page and "Unlock 203.0.113.9" in page
    # when they unlock the teacher's account
    answer = client.post("/audit/unlock/", {"account": "teacher", "address": ""}, follow=True)
    # then they hear so, the teacher signs in with the right password, and it is audited
    assert "Sign-in unlocked for teacher." in answer.text
    assert "Unlock teacher" not in answer.text and "Unlock 203.0.113.9" in answer.text
    unlock = AuditEntry.objects.get(action=AuditEntry.Action.UNLOCK)
    assert (unlock.user, unlock.subject) == (cast.admin, "sign-in as teacher")
    client.logout()
    assert signed_in(sign_in(client, "teacher", PASSWORD))


def test_an_administrator_cannot_unlock_what_is_not_locked_in_their_district(cast, client):
    # given the cast's teacher locked, and the administrator of another district signed in
    for n in range(5):
        sign_in(client, "teacher", f"guess-{n}")
    client.force_login(cast.outsider)
    # then the teacher is not on their page, and asking to unlock changes nothing
    assert "Unlock teacher" not in client.get("/audit/").text
    answer = client.post("/audit/unlock/", {"account": "teacher", "address": ""}, follow=True)
    assert "not locked (any more) in your district" in answer.text
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.UNLOCK).exists()
    client.logout()
    assert LOCKED in sign_in(client, "teacher", PASSWORD).text
