"""`homeroom survey_links`: links to a survey for one school, one per line."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from homeroom.core.actions import CommandLine
from homeroom.core.models import School
from homeroom.surveys.actions import do_make_survey_links
from homeroom.surveys.models import Survey


class Command(BaseCommand):
    help = (
        "Print links to a needs survey for one school, tied to no household: for surveys of "
        "students or staff, handed out at school (docs/surveys.md)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--survey", type=int, required=True, help="the survey's number")
        parser.add_argument("--school", required=True, help="the school's local id")
        parser.add_argument("--count", type=int, required=True, help="how many links")
        parser.add_argument(
            "--base-url",
            required=True,
            help="the server's address, e.g. https://homeroom.example.org",
        )

    def handle(self, *args, **options) -> None:
        survey = Survey.objects.filter(pk=options["survey"]).first()
        if survey is None:
            raise CommandError(f"No survey number {options['survey']}: see the Surveys page.")
        school = School.objects.filter(
            district_id=survey.district_id, local_id=options["school"]
        ).first()
        if school is None:
            raise CommandError(
                f"No school with local id {options['school']!r} in {survey.district.name}."
            )
        try:
            links = do_make_survey_links(
                survey=survey,
                school=school,
                count=options["count"],
                base_url=options["base_url"],
                via=CommandLine("homeroom survey_links"),
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.stdout.write("\n".join(links))
