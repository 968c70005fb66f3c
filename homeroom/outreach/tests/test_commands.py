"""`homeroom worker`: what it sends and how it refuses bad arguments."""

import io

import pytest
from django.core.management import CommandError, call_command

from homeroom.outreach.actions import do_send_family_message


@pytest.mark.django_db
def test_the_worker_once_sends_what_is_due_and_stops(cast, families, provider):
    for words in ("uno", "dos"):
        do_send_family_message(
            cast.teacher,
            student_id=cast.ana.pk,
            guardian_id=families.maria.pk,
            channel="sms",
            text=words,
        )
    out = io.StringIO()
    call_command("worker", "--once", "--batch", "1", stdout=out)
    assert out.getvalue().strip() == (
        "Abandoned: 0 retried, 0 left for staff. Asked the provider about interrupted texts: "
        "none. Messages: 2 sent."
    )
    assert [m["body"].split("\n")[0] for m in provider.delivered] == ["uno", "dos"]


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        (["--batch", "0"], "--batch must be at least 1 (got 0)"),
        (["--idle", "0"], "--idle must be above 0 and --lease 0 or more (seconds)"),
    ],
)
def test_bad_arguments_are_refused_with_what_to_do(arguments, error):
    with pytest.raises(CommandError, match=error.replace("(", r"\(").replace(")", r"\)")):
        call_command("worker", *arguments)
