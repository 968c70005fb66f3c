"""The board report and the annual MTSS report: sections of suppressed figures with their
charts, rendered to PDF by WeasyPrint (docs/reports.md).

A report is a list of section builders. Each takes the district's `Figures` and returns a
section (its template and what it shows) or None when it has nothing to show. Both reports
use the same builders in their own order; adding a section is adding a builder to a list.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.template.loader import render_to_string

from homeroom.impact.selectors import stored_impact
from homeroom.metrics import display
from homeroom.metrics.charts import line_chart, scatter_chart, share_bar_chart
from homeroom.reports import selectors
from homeroom.reports.selectors import Figures
from homeroom.reports.suppression import HIDDEN

KINDS = {"board": "Board report", "annual": "Annual MTSS report"}


@dataclass(frozen=True)
class Section:
    title: str
    template: str
    context: dict


Builder = Callable[[Figures], Section | None]


def summary_section(f: Figures) -> Section:
    row = f.district_row
    return Section(
        "The district at a glance",
        "reports/section_summary.html",
        {"row": row, "schools": len(f.schools)},
    )


def trend_section(f: Figures) -> Section | None:
    if not f.weeks:
        return None
    chart = line_chart(
        [w.monday.strftime("%b %-d") for w in f.weeks],
        [
            ("Last year", [w.last_year for w in f.weeks]),
            ("This year", [w.attendance_rate for w in f.weeks]),
        ],
        label_every=max(1, len(f.weeks) // 8),
    )
    return Section(
        "Attendance week by week", "reports/section_trend.html", {"chart": chart, "weeks": f.weeks}
    )


def schools_section(f: Figures) -> Section:
    return Section(
        "Schools", "reports/section_schools.html", {"rows": f.schools, "district": f.district_row}
    )


def tiers_section(f: Figures) -> Section:
    tiers = f.district_row.tiers
    chart = share_bar_chart(
        [t.share for t in tiers],
        [t.label.split(":")[0] for t in tiers],
        [f"{t.label}: {display.percent(t.share)}" for t in tiers],
    )
    return Section(
        "MTSS tiers",
        "reports/section_tiers.html",
        {"chart": chart, "tiers": tiers, "rows": f.schools, "moves": f.tier_moves},
    )


def _gap_chart(gaps: list[selectors.GroupGap]):
    shown = [g for g in gaps if any(rate is not None for _, rate, _ in g.months)]
    if not shown:
        return None
    months = [month for month, _, _ in gaps[0].months]
    whole = [district for _, _, district in gaps[0].months]
    lines = [(g.label, [rate for _, rate, _ in g.months]) for g in shown]
    values = [v for _, line in lines for v in line if v is not None] + [
        v for v in whole if v is not None
    ]
    top = min(1.0, (int(max(values, default=0.1) * 20) + 2) / 20)
    return line_chart([m.strftime("%b") for m in months], [("District", whole), *lines], top=top)


def groups_section(f: Figures) -> Section | None:
    if not f.groups and not f.races:
        return None
    return Section(
        "Student groups: chronic absence month by month",
        "reports/section_groups.html",
        {
            "groups": f.groups,
            "races": f.races,
            "chart": _gap_chart(f.groups),
            "months": [m for m, _, _ in (f.groups or f.races)[0].months],
        },
    )


def process_section(f: Figures) -> Section:
    p = f.process
    return Section(
        "What staff did",
        "reports/section_process.html",
        {"rows": list(zip(p.months, p.cases_opened, p.contacts, p.messages, strict=True)), "p": p},
    )


def improvement_section(f: Figures) -> Section | None:
    if not f.improvement:
        return None
    chart = scatter_chart([(c.label, c.chronic_rate, c.change) for c in f.improvement])
    return Section(
        "Improvement against level",
        "reports/section_improvement.html",
        {
            "chart": chart,
            "changes": sorted(f.improvement, key=lambda c: c.label),
            "improved": selectors.most_improved(f.improvement),
            "declined": selectors.most_declined(f.improvement),
        },
    )


def impact_section(f: Figures) -> Section | None:
    """Days recovered per student as the last refresh stored them (`stored_impact`); a row
    of fewer students served than the district's minimum cell is left out (its estimate
    would describe a handful of students), and the section says how many were."""
    report = stored_impact(f.district)
    if report is None:
        return None
    rows = [row for row in report.rows if row.treated >= f.minimum]
    return Section(
        "What made a difference",
        "reports/section_impact.html",
        {"report": report, "rows": rows, "left_out": len(report.rows) - len(rows)},
    )


BOARD_SECTIONS: list[Builder] = [
    summary_section,
    trend_section,
    schools_section,
    groups_section,
    impact_section,
    process_section,
    tiers_section,
    improvement_section,
]
ANNUAL_SECTIONS: list[Builder] = [
    summary_section,
    tiers_section,
    schools_section,
    trend_section,
    groups_section,
    improvement_section,
    process_section,
]
SECTIONS = {"board": BOARD_SECTIONS, "annual": ANNUAL_SECTIONS}


def _shown(value, as_rate: bool = False) -> str:
    if value is None:
        return HIDDEN
    return display.percent(value) if as_rate else str(value)


def public_table(kind: str, f: Figures) -> tuple[list[str], list[list[str]]]:
    """A report's table as a public CSV holds it (header, rows): the same suppressed
    figures as the PDF, a hidden one written `*`."""
    if kind == "schools":
        header = [
            "school",
            "students counted",
            "chronically absent",
            "chronic absence rate",
            "rate a year earlier",
        ]
        rows = [
            [
                r.label,
                _shown(r.counted),
                _shown(r.chronic),
                _shown(r.chronic_rate, True),
                _shown(r.last_year_chronic_rate, True),
            ]
            for r in [f.district_row, *f.schools]
        ]
        return header, rows
    if kind == "groups":
        gaps = [*f.groups, *f.races]
        months = [m for m, _, _ in gaps[0].months] if gaps else []
        header = ["group", *(m.isoformat() for m in months)]
        rows = [["District", *(_shown(w, True) for _, _, w in gaps[0].months)]] if gaps else []
        rows += [[g.label, *(_shown(r, True) for _, r, _ in g.months)] for g in gaps]
        return header, rows
    raise KeyError(kind)


PUBLIC_TABLES = {
    "schools": "Chronic absence by school",
    "groups": "Chronic absence by student group and month",
}


def sections(kind: str, f: Figures) -> list[Section]:
    return [s for build in SECTIONS[kind] if (s := build(f)) is not None]


def body(section: Section, f: Figures) -> str:
    """A section's HTML, as the PDF and the pages show it."""
    return render_to_string(section.template, {**section.context, "f": f})


def html(kind: str, f: Figures) -> str:
    """The report as one HTML document (the PDF's source)."""
    return render_to_string(
        "reports/pdf_report.html",
        {
            "title": KINDS[kind],
            "f": f,
            "sections": [(s.title, body(s, f)) for s in sections(kind, f)],
        },
    )


def render(kind: str, f: Figures) -> bytes:
    """The report as a PDF."""
    import weasyprint  # a dependency; imported here so the rest of the app loads without it

    # No base_url: the document fetches nothing (its stylesheet is inline, charts are SVG).
    return weasyprint.HTML(string=html(kind, f)).write_pdf()
