"""`homeroom refresh_summaries`: recompute every student summary of a district."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError, CommandParser

from homeroom.core.commands import command_district
from homeroom.core.selectors import district_today
from homeroom.metrics.actions import do_refresh_summaries
from homeroom.metrics.labels import profile_title
from homeroom.metrics.models import StudentSummary
from homeroom.metrics.rules import RuleProfileError


class Command(BaseCommand):
    """The full recompute of the summaries the pages read (imports refresh only theirs)."""

    help = (
        "Recompute every student's attendance summary of a district (what the pages show), "
        "as of a date, under the district's rule profile."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """As of when, and for which district."""
        parser.add_argument(
            "--as-of", help="last day counted, YYYY-MM-DD (default: today in the district)"
        )
        parser.add_argument("--district", help="district name (when several are held)")

    def handle(self, *args, **options) -> None:
        """Recompute in one transaction and say how many rows it wrote, and how fast."""
        as_of = _date(options["as_of"])
        district = command_district(options["district"])
        try:
            state = do_refresh_summaries(district, as_of=as_of)
        except RuleProfileError as error:
            raise CommandError(f"{district.name}: {error}") from None
        if state is None:
            day = as_of or district_today(district)
            raise CommandError(
                f"{district.name} has no school year starting on or before {day}: "
                "import its school years and calendars first"
            )
        rows = StudentSummary.objects.filter(student__district=district).count()
        self.stdout.write(
            f"{district.name}: {rows} summary rows written for {state.students} students, "
            f"as of {state.as_of}, under the {profile_title(state.profile)} rules "
            f"({state.profile}), in {state.seconds:.2f} s"
        )


def _date(text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--as-of {text!r} is not a date; write it as YYYY-MM-DD") from None
