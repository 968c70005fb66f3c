"""`homeroom impact`: the impact table of a district, as the Impact page shows it: the stored
one, or recomputed and stored first (`--refresh`), or computed for another day or number of
weeks without storing it (`--as-of`, `--weeks`)."""

import argparse
import datetime as dt

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from homeroom.core.actions import CommandLine
from homeroom.core.commands import command_district
from homeroom.impact.actions import do_refresh_impact, do_set_intervention_cost
from homeroom.impact.selectors import DEFAULT_WEEKS, district_impact, stored_impact


def iso_date(text: str) -> dt.date:
    """A date argument written YYYY-MM-DD."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date; write it as YYYY-MM-DD"
        ) from None


class Command(BaseCommand):
    """Print days recovered per student for every grouping, or record a cost."""

    help = (
        "Days of attendance recovered per student in the weeks after an intervention, a case "
        "step, a message, against similar students not yet served; and the nudge letters' "
        "randomized holdout (docs/impact.md). Prints the table the nightly run stored; "
        "--refresh recomputes and stores it first; --as-of or --weeks alone compute one "
        "without storing it. --set-cost KEY AMOUNT records what serving one "
        "student costs (audited)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """The district, the day, the weeks; or a cost to record."""
        parser.add_argument("--district", help="district name (needed when several are held)")
        parser.add_argument("--as-of", type=iso_date, help="the day (default: today)")
        parser.add_argument(
            "--weeks", type=int, help=f"weeks after the start (1-20; default {DEFAULT_WEEKS})"
        )
        parser.add_argument(
            "--refresh", action="store_true", help="recompute the stored table, then print it"
        )
        parser.add_argument(
            "--set-cost",
            nargs=2,
            metavar=("KEY", "AMOUNT"),
            help='record the cost per student of a row (its key, e.g. "case" or '
            '"type:home-visit"); AMOUNT "none" removes it',
        )
        parser.add_argument("--note", default="", help="where the cost comes from")

    def handle(self, *args, **options) -> None:
        """Record a cost, or compute and print the table."""
        district = command_district(options["district"])
        if options["set_cost"]:
            key, amount = options["set_cost"]
            try:
                do_set_intervention_cost(
                    None,
                    district=district,
                    key=key,
                    cost=None if amount.lower() == "none" else amount,
                    note=options["note"],
                    via=CommandLine("homeroom impact --set-cost"),
                )
            except ValidationError as error:
                problems = (m for ms in error.message_dict.values() for m in ms)
                raise CommandError(" ".join(problems)) from None
            self.stdout.write(f"cost of {key}: {'removed' if amount.lower() == 'none' else amount}")
            return
        weeks = options["weeks"] if options["weeks"] is not None else DEFAULT_WEEKS
        if not 1 <= weeks <= 20:
            raise CommandError("--weeks must be from 1 to 20")
        on_demand = options["as_of"] is not None or options["weeks"] is not None
        if options["refresh"]:
            do_refresh_impact(district, as_of=options["as_of"], weeks=weeks)
        if options["refresh"] or not on_demand:
            report = stored_impact(district)
            if report is None:
                raise CommandError(
                    f"{district.name} has no impact table stored yet (or nothing to measure); "
                    "the nightly run computes it, or run homeroom impact --refresh"
                )
            self.stdout.write(
                f"{district.name}: impact in the {report.weeks} weeks after each start, as of "
                f"{report.as_of} (attendance to the day before), computed "
                f"{report.computed_at:%Y-%m-%d %H:%M} UTC"
            )
        else:
            report = district_impact(district, as_of=options["as_of"], weeks=weeks)
            if report.school_year is None:
                raise CommandError(
                    f"{district.name} has no school year on or before {report.as_of}"
                )
            self.stdout.write(
                f"{district.name}: impact in the {report.weeks} weeks after each start, school "
                f"year {report.school_year.name}, attendance to the day before {report.as_of} "
                "(computed now, not stored)"
            )
        for title, rows in report.grouped():
            self.stdout.write(f"\n{title}")
            self.stdout.write(
                f"  {'key':34} {'treated':>7} {'compared':>8} {'days':>6} {'interval':>15} "
                f"{'cost/day':>9}  reading"
            )
            for row in rows:
                interval = (
                    f"{row.low:+.1f} to {row.high:+.1f}" if row.days_recovered is not None else ""
                )
                days = f"{row.days_recovered:+.1f}" if row.days_recovered is not None else ""
                cost = f"{row.cost_per_day:,.2f}" if row.cost_per_day is not None else ""
                self.stdout.write(
                    f"  {row.key:34} {row.treated:7,} {row.comparison:8,} {days:>6} "
                    f"{interval:>15} {cost:>9}  {row.label}: {row.reading}"
                )
