"""Template comments that Django would print to staff as text."""

import re
from pathlib import Path

import homeroom

ROOT = Path(homeroom.__file__).parent


def test_no_template_comment_spans_lines():
    # Django's {# ... #} ends at the line's end: one over several lines is shown on the
    # page as it is written (a case page showed one under every entry); {% comment %} is
    # the multi-line form.
    spanning = [
        str(path.relative_to(ROOT))
        for path in ROOT.rglob("*.html")
        if any("\n" in m for m in re.findall(r"\{#(.*?)#\}", path.read_text(), re.S))
    ]
    assert spanning == []
