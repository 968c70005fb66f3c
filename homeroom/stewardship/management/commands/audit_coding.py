"""`homeroom audit_coding`: the coding audit's findings, printed."""

import datetime as dt
import json

from django.core.management.base import BaseCommand, CommandError

from homeroom.core.selectors import DistrictNotFound, district_named
from homeroom.stewardship.findings import PATTERNS
from homeroom.stewardship.selectors import district_findings


class Command(BaseCommand):
    help = (
        "Print the coding audit: patterns in the attendance rows that suggest data problems "
        "or gaming (docs/coding-audit.md)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--district", help="the district's name (needed if several)")
        parser.add_argument("--as-of", help="the day to audit up to (YYYY-MM-DD; default today)")
        parser.add_argument("--json", action="store_true", help="print the findings as JSON")

    def handle(self, *args, **options) -> None:
        try:
            district = district_named(options["district"])
        except DistrictNotFound as error:
            raise CommandError(f"{error}.") from None
        as_of = None
        if options["as_of"]:
            try:
                as_of = dt.date.fromisoformat(options["as_of"])
            except ValueError:
                raise CommandError(
                    f"--as-of {options['as_of']!r} is not a date: write it as YYYY-MM-DD."
                ) from None
        findings = district_findings(district, as_of=as_of)
        if options["json"]:
            rows = [
                {
                    "pattern": f.pattern,
                    "school": f.school,
                    "summary": f.summary,
                    "count": f.count,
                    "rows": f.rows.as_query(),
                }
                for f in findings
            ]
            self.stdout.write(json.dumps(rows, indent=2))
            return
        if not findings:
            self.stdout.write(f"{district.name}: nothing found; every school's rows look ordinary.")
            return
        self.stdout.write(f"{district.name}: {len(findings)} finding(s).")
        for pattern, label in PATTERNS.items():
            found = [f for f in findings if f.pattern == pattern]
            if not found:
                continue
            self.stdout.write(f"\n{label}")
            for finding in found:
                query = "&".join(f"{k}={v}" for k, v in finding.rows.as_query().items())
                self.stdout.write(f"- {finding.school}: {finding.summary}")
                self.stdout.write(f"  rows: /stewardship/coding-audit/rows/?{query}")
