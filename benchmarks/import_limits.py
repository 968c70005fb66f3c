"""Benchmark: what reading a hostile OneRoster zip costs now that imports have limits.

Run from the repository root: `.venv/bin/python benchmarks/import_limits.py [case]`, one of
`unused` (a 1 GiB results.csv Homeroom does not read, beside the export's files),
`large` (a users.csv of 1 GiB of blank lines: refused from the zip's directory) and
`lines` (the same with the size limit raised to 2 GiB, so the file is streamed until the
line limit stops it). Each case runs in a process of its own; prints the seconds taken (and
of CPU: compare those on a loaded machine), the process's peak memory and the errors. The
zips are written to a temporary directory (about 4 MB each, compressed). Figures in
docs/benchmarks.md, "Import limits".
"""

import argparse
import os
import pathlib
import resource
import subprocess
import sys
import tempfile
import time
import zipfile

GIB = 1 << 30


def write_zip(path: pathlib.Path, case: str) -> None:
    """The test export's files and the 1 GiB member of the case."""
    from homeroom.ingest.tests.adapters.test_oneroster import EXPORT, USERS_HEADER

    big = "results.csv" if case == "unused" else "users.csv"
    line = b"r,1\n" if case == "unused" else b"\n"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, content in EXPORT.items():
            if name != big:
                archive.writestr(name, content)
        with archive.open(big, "w", force_zip64=True) as member:
            if big == "users.csv":
                member.write(USERS_HEADER.encode() + b"\n")
            chunk = line * ((1 << 22) // len(line))
            for _ in range(GIB // len(chunk)):
                member.write(chunk)


def measure(case: str) -> None:
    """Write the zip, read it as an import would, and print what it cost."""
    import django

    django.setup()
    from homeroom.ingest.adapters.oneroster import read_oneroster

    with tempfile.TemporaryDirectory() as directory:
        path = pathlib.Path(directory) / f"{case}.zip"
        write_zip(path, case)
        started, cpu = time.monotonic(), time.process_time()
        batch = read_oneroster([path])
        seconds, cpu = time.monotonic() - started, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    errors = sorted({problem.code for problem in batch.errors})
    print(f"read in {seconds:.1f} s ({cpu:.1f} s of CPU), peak memory {peak:,.0f} MB, {errors}")


def main() -> None:
    """Each case in a fresh process, so each peak is its own."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case", nargs="?", choices=["unused", "large", "lines"])
    parser.add_argument("--in-process", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "homeroom.settings")
    if args.in_process:
        measure(args.case)
        return
    for case in [args.case] if args.case else ["unused", "large", "lines"]:
        env = os.environ | ({"HOMEROOM_MAX_IMPORT_MB": "2048"} if case == "lines" else {})
        case_name = "large" if case == "lines" else case
        command = [sys.executable, __file__, case_name, "--in-process"]
        print(f"[{case}]", end=" ", flush=True)
        subprocess.run(command, env=env, check=True)


if __name__ == "__main__":
    main()
