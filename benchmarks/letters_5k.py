"""Benchmark: the PDF of a 5,000-letter batch (letters.write_pdf), without a database.

    PYTHONPATH=. .venv/bin/python benchmarks/letters_5k.py [--letters 5000] [--processes N]

Builds the letters in memory (the shipped nudge letter in the 8 languages, in turn, to
households with an address) and times `write_pdf`: chunks of 200 pages laid out by
WeasyPrint in worker processes and joined into one PDF. Prints the wall time and the CPU
time of this process and its workers, so a figure taken on a busy machine can be read as
what a quiet one would take (CPU seconds / cores). `outreach_50k.py` times the same batch
through `do_print_letters` with its database.
"""

import argparse
import datetime as dt
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "homeroom.settings")
os.environ.setdefault("HOMEROOM_DATA_DIR", tempfile.mkdtemp(prefix="letters-bench-"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=5_000)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    import django

    django.setup()
    from django.conf import settings

    from homeroom.core.models import District, School
    from homeroom.outreach.letters import write_pdf
    from homeroom.outreach.models import LetterBatch, Message
    from homeroom.outreach.templates import fill, shipped_defaults
    from homeroom.roster.models import Guardian

    settings.LETTER_PROCESSES = args.processes
    nudge = shipped_defaults()["nudge"]
    languages = sorted(nudge)
    on = dt.date(2026, 12, 4)
    school = School(pk=1, name="Lincoln Elementary", district=District(name="Riverside Unified"))
    letters = []
    for n in range(args.letters):
        language = languages[n % len(languages)]
        guardian = Guardian(
            first_name="María",
            last_name=f"Alvarez {n}",
            address_line=f"{n} Elm St",
            city="Riverside",
            state="IL",
            postal_code="60546",
        )
        values = {
            "guardian": f"{guardian.first_name} {guardian.last_name}",
            "children": "Ana",
            "days_absent": "9",
            "typical_days": "4",
            "as_of": on,
            "school": school.name,
        }
        body = fill(nudge[language]["body"], values, language)
        letters.append(Message(guardian=guardian, language=language, body=body, channel="letter"))
    path = Path(settings.DATA_DIR) / "letters.pdf"
    load = os.getloadavg()[0]
    wall, cpu = time.perf_counter(), time.process_time()
    write_pdf(path, school=school, letters=letters, on=on, batch=LetterBatch(pk=1))
    wall = time.perf_counter() - wall
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = time.process_time() - cpu + children.ru_utime + children.ru_stime
    print(
        f"{args.letters:,} letters ({len(languages)} languages) in one PDF "
        f"({path.stat().st_size / 1e6:.1f} MB): {wall:.0f} s wall, {cpu:.0f} s CPU "
        f"({args.processes} processes; load average {load:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end)"
    )


if __name__ == "__main__":
    main()
