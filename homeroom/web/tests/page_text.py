"""Reading rendered pages the way a person does: tables as rows of cell text, links."""

import re
from html.parser import HTMLParser

STUDENT_LINK = re.compile(r'href="/students/(\d+)/"')
CSRF_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"')
EXTERNAL_REFERENCE = re.compile(
    r"""(?:src|href|action|srcset|poster|data)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE
)


class _Tables(HTMLParser):
    """Collects each table's caption and rows of cell text."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[dict] = []
        self._cell: list[str] | None = None
        self._caption: list[str] | None = None
        self._row: list[str] | None = None

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag == "table":
            self.tables.append({"id": dict(attrs).get("id", ""), "caption": "", "rows": []})
        elif tag == "caption":
            self._caption = []
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "caption" and self._caption is not None:
            self.tables[-1]["caption"] = " ".join("".join(self._caption).split())
            self._caption = None
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            text = "".join(self._cell).replace("▲", "").replace("▼", "")
            self._row.append(" ".join(text.split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1]["rows"].append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._caption is not None:
            self._caption.append(data)


def tables(html: str) -> list[dict]:
    """Every table of the page: {'id', 'caption', 'rows': [[cell text, ...], ...]}."""
    parser = _Tables()
    parser.feed(html)
    return parser.tables


def table_rows(html: str, caption_starts: str) -> list[list[str]]:
    """The rows (header row first) of the table whose caption starts with the given words."""
    for table in tables(html):
        if table["caption"].startswith(caption_starts):
            return table["rows"]
    raise AssertionError(f"no table captioned {caption_starts!r}")


def rows_by_first_cell(html: str, caption_starts: str) -> dict[str, dict[str, str]]:
    """A table's body rows keyed by their first cell, each as {column header: cell text}."""
    header, *body = table_rows(html, caption_starts)
    return {row[0]: dict(zip(header, row, strict=False)) for row in body}


def student_ids_linked(html: str) -> set[int]:
    """Ids of the students the page links to."""
    return {int(found) for found in STUDENT_LINK.findall(html)}


def without_csrf_tokens(html: str) -> str:
    """The page with its per-response CSRF tokens blanked, so two renders compare equal."""
    return CSRF_TOKEN.sub('name="csrfmiddlewaretoken" value=""', html)


def figure(html: str, label: str) -> str:
    """The value shown under a headline figure's label, e.g. figure(page, 'Days absent')."""
    found = re.search(rf"<dt>{re.escape(label)}</dt>\s*<dd>(.*?)</dd>", html, re.DOTALL)
    if found is None:
        raise AssertionError(f"no figure labelled {label!r}")
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()  # the figure may be a link
