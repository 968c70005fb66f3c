"""`homeroom unlock --user NAME | --address IP`: let a locked account or address sign in."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from homeroom.accounts.actions import do_unlock_sign_in
from homeroom.accounts.models import User
from homeroom.core.actions import CommandLine


class Command(BaseCommand):
    """Unlock sign-in now, before the lockout period ends; the unlock is audited."""

    help = (
        "Unlock sign-in for an account or an address locked by failed sign-ins "
        "(docs/access.md, 'Sign-in lockout')."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """The account or the address."""
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--user", help="username of the locked account")
        which.add_argument("--address", help="IP address locked by failed sign-ins")

    def handle(self, *args, **options) -> None:
        """Write the unlock; failures before it no longer count."""
        username, address = options["user"], options["address"]
        if username and not User.objects.filter(username=username).exists():
            raise CommandError(f"no account is named {username!r}")
        do_unlock_sign_in(username=username, address=address, via=CommandLine("homeroom unlock"))
        self.stdout.write(f"Sign-in unlocked for {username or address}.")
