"""A table of a page as a CSV or XLSX download: every cell made safe, every export audited.

Pages offer their table (with the filters applied) as `?download=csv` or `?download=xlsx`.
The file is written whole in memory (a page's table, not the district's history), and the
export is written to the audit log, with who and how many rows, in the same transaction.
"""

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import transaction
from django.http import HttpResponse
from openpyxl import Workbook

from homeroom.core.actions import do_log_export
from homeroom.core.spreadsheets import safe_row

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def download_format(value: str | None) -> str | None:
    """The download asked for (`csv` or `xlsx`), or None for the page itself."""
    return value if value in FORMATS else None


def _csv(header: Sequence[str], rows: list[list[Any]]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(safe_row(header))
    writer.writerows(rows)
    # A byte-order mark so Excel reads the names' accents as UTF-8.
    return ("\ufeff" + text.getvalue()).encode("utf-8")


def _xlsx(title: str, header: Sequence[str], rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]  # Excel's limit for a sheet's name
    sheet.append(safe_row(header))
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def table_download(
    *,
    user,
    file_format: str,
    subject: str,
    filename: str,
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    filters: dict[str, str],
) -> HttpResponse:
    """The table as a file to save, its export written to the audit log."""
    safe = [safe_row(row) for row in rows]
    with transaction.atomic():
        do_log_export(
            subject=subject,
            count=len(safe),
            details={"format": file_format, "rows": len(safe), "filters": filters},
            district=user.district,
            user=user,
        )
        body = _csv(header, safe) if file_format == "csv" else _xlsx(subject, header, safe)
    response = HttpResponse(body, content_type=FORMATS[file_format])
    response["Content-Disposition"] = f'attachment; filename="{filename}.{file_format}"'
    return response
