"""The interventions history of a generated district: who was noticed, contacted, given a
case, a plan, follow-ups, interventions and referrals, and what some interventions did to
their later attendance (docs/generator.md, "Interventions history").

Pure Python and numpy like the generator that calls it (`district.generate_district`), and
below it in the import graph: the generator hands in what it knows (calendars, rosters,
the year's attendance events, random streams) and gets back plain records and the events
the planted effects removed. Nothing here knows Django; `loading.load_intervention_history`
writes the records.

The history is decided year by year, after the year's attendance is drawn and before it is
cut at `today`: a weekly attendance review looks at each student's absences so far, the
way a school team would, and the records are dated by it. The planted effects then thin
the absences of students given an effective intervention from its start to the end of the
school year, so later attendance reflects them.
"""

import bisect
import datetime as dt
import functools
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

# The planted effects: per intervention type (playbook key), the factor applied to the
# chance of each absence from the intervention's start to the end of the school year.
# Check & Connect's randomized evaluations and home-visit programmes report reductions of
# this order; the values are made up for the demo, not estimates.
PLANTED_EFFECTS = (("check-and-connect", 0.7), ("home-visit", 0.75))

# Absence codes an intervention can prevent: not suspensions, not buses that did not run.
PREVENTABLE = ("A", "U", "E", "ILL", "MED", "REL", "BRV", "HD")
# Codes counted as absence by the review, with the share of a day (HD: its day_fraction).
ABSENT = {"A": 1.0, "U": 1.0, "E": 1.0, "ILL": 1.0, "MED": 1.0, "REL": 1.0, "BRV": 1.0}
ABSENT |= {"TRN": 1.0, "OSS": 1.0, "HD": 0.5}
ILLNESS_CODES = ("ILL", "MED")

REVIEW_EVERY = 5  # school days between attendance reviews: weekly
FIRST_REVIEW = 20  # the first review, after four weeks: earlier rates are mostly noise
MINIMUM_DAYS = 10  # days enrolled before a rate means anything (the metrics' minimum too)
TIER1_RATE, TIER2_RATE, TIER3_RATE = 0.05, 0.10, 0.20
CASE_SHARE = {2: 0.25, 3: 1.0}  # tier 2 crossings that get a case; tier 3 always, but:
ILLNESS_DOMINATED = 0.6  # share of illness among absences that makes a case optional
ILLNESS_NO_CASE = 0.5  # chance such a tier 3 student is left to the nurse, with a reason
TIER1_ACTION_SHARE = 0.35  # students crossing 5% (or tier 2 without a case) a teacher acts on
UNASSIGNED_DAYS = 14  # cases opened this recently may still wait for a case manager
UNASSIGNED_SHARE = 0.6
STUDENTS_PER_COUNSELOR = 300

TIER1_TYPES = ("recognition", "family-education", "we-miss-you-call")
# The primary intervention of a case is drawn uniformly from its tier's list, whatever the
# student: assignment is random given the tier, so an analyst can compare the types.
CASE_TYPES = {
    2: ("check-and-connect", "weekly-check-in", "small-group-workshop", "we-miss-you-call"),
    3: ("check-and-connect", "home-visit", "daily-check-in", "community-referral"),
}
BARRIERS = (
    "transportation",
    "health",
    "housing",
    "caring-for-siblings",
    "work",
    "bullying-safety",
    "disengagement",
    "family-crisis",
    "misconceptions",
)
FOLLOW_UP_TEXTS = (
    "Check attendance since the last meeting",
    "Call the family about this week",
    "Meet the student",
    "Check in with the homeroom teacher",
    "Review progress on the plan",
)
FOLLOW_UP_OUTCOMES = (
    "Attendance improving; keep going",
    "Spoke with the family; no new barriers",
    "Student missed two more days; plan adjusted",
    "Met the student; engaged",
    "No change yet",
)
OUTCOMES = ("reached", "no_answer", "left_message", "wrong_number")
OUTCOME_SHARES = tuple(itertools.accumulate((0.55, 0.2, 0.2, 0.05)))
CHANNEL_OF_PREFERENCE = {"sms": "text", "voice": "call", "email": "email", "letter": "letter"}

# Community partners (fictional): key, name, services, barriers, languages, capacity.
PARTNERS = (
    (
        "family-resource-center",
        "Riverbend Family Resource Center",
        "Family support, childcare help, parenting groups",
        ("family-crisis", "caring-for-siblings", "housing"),
        ("en", "es", "pt"),
        None,
    ),
    (
        "community-health",
        "Millbrook Community Health Center",
        "Primary care, dental, asthma clinic, counseling",
        ("health",),
        ("en", "es", "ht"),
        None,
    ),
    (
        "housing-alliance",
        "Harbor Housing Alliance",
        "Emergency shelter, rental assistance, housing search",
        ("housing",),
        ("en", "es"),
        None,
    ),
    (
        "youth-mentoring",
        "Riverbend Youth Mentoring Partnership",
        "One-to-one mentors, after-school programs",
        ("disengagement", "bullying-safety"),
        ("en",),
        None,
    ),
    (
        "immigrant-family-services",
        "North Shore Immigrant Family Services",
        "Interpreters, legal help, job search, family case work",
        ("family-crisis", "work"),
        ("es", "pt", "ht", "so", "ar", "vi", "zh"),
        None,
    ),
    (
        "transit-access",
        "Riverbend Transit Access Program",
        "Bus passes, rides to school, carpool matching",
        ("transportation",),
        ("en", "es"),
        None,
    ),
)
STAFF_FIRST = [
    "Angela",
    "Brian",
    "Carmen",
    "Derek",
    "Elena",
    "Frank",
    "Gloria",
    "Hector",
    "Irene",
    "Jamal",
    "Karen",
    "Luis",
    "Monica",
    "Nathan",
    "Olga",
    "Patrick",
    "Rosa",
    "Steven",
    "Teresa",
    "Victor",
    "Wendy",
    "Yolanda",
]
STAFF_LAST = [
    "Alvarez",
    "Bishop",
    "Chen",
    "Dawson",
    "Ellis",
    "Fontaine",
    "Gordon",
    "Hayes",
    "Ibarra",
    "Jensen",
    "Kowalski",
    "Lambert",
    "Mendez",
    "Novak",
    "Osei",
    "Pham",
    "Quinn",
    "Ramos",
    "Santos",
    "Tran",
    "Underwood",
    "Vega",
    "Whitaker",
]

Stream = Callable[..., np.random.Generator]


@dataclass
class YearView:
    """What the history needs of one school year: the calendar, the roster, the events."""

    start_year: int
    name: str
    columns: np.ndarray  # ordinals of the school days
    last_day: int  # ordinal of the year's last day
    student: np.ndarray  # roster rows: student numbers, sorted
    grade: np.ndarray
    school_a: np.ndarray
    entry_a: np.ndarray  # columns
    exit_a: np.ndarray
    school_b: np.ndarray  # MISSING (-1) when no second span
    entry_b: np.ndarray
    exit_b: np.ndarray
    exit_reason: np.ndarray  # reason of the row's last span, as EXIT_REASONS text
    homeless: np.ndarray  # bool per row: homeless some time this year
    rider: np.ndarray  # bool per row: rides a bus


@dataclass
class History:
    """The history as plain records keyed by generator numbers; `finish` names them."""

    staff: list[dict] = field(default_factory=list)
    counselors: dict[int, list[str]] = field(default_factory=dict)  # school -> staff ids
    principals: dict[int, str] = field(default_factory=dict)
    cases: list[dict] = field(default_factory=list)
    tier1: list[dict] = field(default_factory=list)
    not_opened: list[dict] = field(default_factory=list)
    # Days planted (`PlantedDays`): per treated student, the kind, start and days removed.
    planted: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class PlantedDays:
    """A known number of days recovered per student in the weeks after an intervention's
    start, planted for some types (docs/generator.md, "Planted days"); none for the rest."""

    days: dict[str, float] = field(default_factory=dict)  # type key -> days per student
    weeks: int = 6


def plan_staff(stream: Stream, schools: list, expected: np.ndarray, email_domain: str) -> History:
    """Counselors (one per ~300 students, at least one) and a principal for every school."""
    rng = stream("history", "staff")
    history = History()
    counselor, principal = 30000, 40000
    seen: set[str] = set()

    def person(role: str, number: int, school: int) -> str:
        first = STAFF_FIRST[int(rng.integers(len(STAFF_FIRST)))]
        last = STAFF_LAST[int(rng.integers(len(STAFF_LAST)))]
        base = f"{first[0].lower()}{last.lower()}"
        email = next(
            f"{base}{k or ''}@{email_domain}" for k in range(100) if f"{base}{k or ''}" not in seen
        )
        seen.add(email.split("@")[0])
        staff_id = f"{'C' if role == 'counselor' else 'P'}{number}"
        history.staff.append(
            {
                "staff_id": staff_id,
                "role": role,
                "first_name": first,
                "last_name": last,
                "school": school,
                "email": email,
            }
        )
        return staff_id

    for k, _plan in enumerate(schools):
        history.principals[k] = person("principal", principal, k)
        principal += 1
        count = max(1, round(float(expected[k]) / STUDENTS_PER_COUNSELOR))
        history.counselors[k] = []
        for _ in range(count):
            history.counselors[k].append(person("counselor", counselor, k))
            counselor += 1
    return history


@functools.cache
def _iso(ordinal: int) -> str:
    return dt.date.fromordinal(int(ordinal)).isoformat()


def decide_year(
    stream: Stream,
    history: History,
    year: YearView,
    events: dict[str, np.ndarray],
    code_names: np.ndarray,
    grade_bands: dict[int, tuple[int, int]],
    effects: dict[str, float],
    planted: PlantedDays | None = None,
) -> np.ndarray:
    """Add the year's history; return the mask of events kept (the planted effects thin).

    `events` holds parallel columns (student, date, code number, day_fraction) of the whole
    year, before the cut at today; `code_names[number]` is the code's text.
    """
    rng = stream("history", year.start_year)
    # The many small per-case draws come from Python's generator, seeded from the stream:
    # numpy's costs a microsecond a call, which thousands of cases notice.
    py = random.Random(int(rng.integers(2**63)))
    rows, days = len(year.student), len(year.columns)
    code = code_names[events["code"]]
    weight = np.array([ABSENT.get(c, 0.0) for c in code_names])[events["code"]]
    half = (code == "HD") & ~np.isnan(events["day_fraction"])
    weight = np.where(half, events["day_fraction"], weight)
    row = np.searchsorted(year.student, events["student"])
    column = np.searchsorted(year.columns, events["date"])
    counted = weight > 0

    # Absences and enrolled days so far, per row and school day (both cumulative).
    absent = np.zeros((rows, days), dtype=np.float32)
    np.add.at(absent, (row[counted], column[counted]), weight[counted])
    ill = np.zeros(rows, dtype=np.float32)
    is_ill = np.isin(code, ILLNESS_CODES)
    np.add.at(ill, row[is_ill], 1)
    every = np.arange(days)[None, :]
    in_a = (every >= year.entry_a[:, None]) & (every <= year.exit_a[:, None])
    in_b = (every >= year.entry_b[:, None]) & (every <= year.exit_b[:, None])
    enrolled = in_a | (in_b & (year.school_b[:, None] >= 0))
    absent_so_far = np.cumsum(absent, axis=1)
    days_so_far = np.cumsum(enrolled, axis=1, dtype=np.int16)
    total_absent = absent_so_far[:, -1]

    # Weekly reviews: the rate up to and including the review day, for students enrolled.
    reviews = np.arange(FIRST_REVIEW - 1, days, REVIEW_EVERY)
    rate = absent_so_far[:, reviews] / np.maximum(days_so_far[:, reviews], 1)
    valid = enrolled[:, reviews] & (days_so_far[:, reviews] >= MINIMUM_DAYS)
    rate = np.where(valid, rate, 0)

    def first_review(threshold: float) -> np.ndarray:
        over = rate >= threshold
        return np.where(over.any(axis=1), over.argmax(axis=1), -1)

    tier1_at, tier2_at, tier3_at = (first_review(t) for t in (TIER1_RATE, TIER2_RATE, TIER3_RATE))
    draw = rng.random((3, rows))
    illness_dominated = ill >= ILLNESS_DOMINATED * np.maximum(total_absent, 1e-9)

    case_at = np.full(rows, -1)
    case_tier = np.zeros(rows, dtype=np.int64)
    takes_tier2 = (tier2_at >= 0) & (draw[0] < CASE_SHARE[2])
    case_at[takes_tier2] = tier2_at[takes_tier2]
    case_tier[takes_tier2] = np.where(rate[takes_tier2, tier2_at[takes_tier2]] >= TIER3_RATE, 3, 2)
    left_to_nurse = illness_dominated & (draw[1] < ILLNESS_NO_CASE)
    takes_tier3 = (tier3_at >= 0) & ~takes_tier2 & ~left_to_nurse
    case_at[takes_tier3] = tier3_at[takes_tier3]
    case_tier[takes_tier3] = 3

    # Students a review put at tier 3 who got no case: the reason is recorded.
    for r in np.flatnonzero((tier3_at >= 0) & (case_at < 0)).tolist():
        history.not_opened.append(
            {
                "student": int(year.student[r]),
                "school_year": year.name,
                "reason": "illness",
                "on": int(year.columns[reviews[tier3_at[r]]]),
                "note": "Absences are mostly excused illness; the school nurse follows up "
                "with the family and the doctor.",
            }
        )

    # Teachers' Tier 1 actions: slipping students, and tier 2 students without a case.
    tier1_row = np.where((tier1_at >= 0) & (case_at < 0) & (draw[2] < TIER1_ACTION_SHARE))[0]
    for r in tier1_row.tolist():
        day = int(min(reviews[tier1_at[r]] + 1 + py.randrange(0, 3), days - 1))
        if not enrolled[r, day]:
            continue
        kind = TIER1_TYPES[py.randrange(len(TIER1_TYPES))]
        weeks = 4 if kind == "we-miss-you-call" else 0
        start = int(year.columns[day])
        history.tier1.append(
            {
                "student": int(year.student[r]),
                "kind": kind,
                "started_on": start,
                "ended_on": start + 7 * weeks if weeks else None,
                "contacts": [_contact(py, start, "teacher", first=True)],
            }
        )

    # Cases: opened at the review (the team meets that day), managed by a counselor.
    keep = np.ones(len(row), dtype=bool)
    cased = np.flatnonzero(case_at >= 0)
    effect_start = np.full(rows, np.iinfo(np.int64).max)
    effect_factor = np.ones(rows)
    planted = planted or PlantedDays()
    planted_rows: list[tuple[int, str, int]] = []
    for r in cased.tolist():
        day = int(reviews[case_at[r]])
        case = _case(py, history, year, r, day, int(case_tier[r]), grade_bands)
        case["barriers"] = _barriers(py, year, r, ill[r], total_absent[r], case)
        start_column = min(day + py.randrange(0, 6), days - 1)
        kind = _primary(py, case)
        started = int(year.columns[start_column])
        case["interventions"].append({"kind": kind, "started_on": started, "note": ""})
        if any(b["barrier"] == "transportation" for b in case["barriers"]):
            case["interventions"].append(
                {"kind": "transportation-help", "started_on": started, "note": "Bus pass"}
            )
        if kind in effects:
            effect_start[r] = started
            effect_factor[r] = effects[kind]
        if kind in planted.days:
            planted_rows.append((r, kind, started))
        _close(py, year, case, r, start_column, absent_so_far, days_so_far)
        _work_case(py, case, started)
        history.cases.append(case)

    # The planted effects: each preventable absence from the start on is kept with the
    # factor's chance (one draw per event, from a stream of its own).
    treated = effect_factor[row] < 1
    preventable = np.isin(code, PREVENTABLE)
    after = events["date"] >= effect_start[row]
    chance = stream("history", "effects", year.start_year).random(len(row))
    keep[treated & preventable & after & (chance >= effect_factor[row])] = False
    if planted_rows:
        _plant_days(
            stream,
            history,
            year,
            planted,
            planted_rows,
            row,
            events["date"],
            preventable & (weight > 0),
            weight,
            keep,
        )
    return keep


def _plant_days(
    stream: Stream,
    history: History,
    year: YearView,
    planted: PlantedDays,
    treated: list[tuple[int, str, int]],
    row: np.ndarray,
    date: np.ndarray,
    preventable: np.ndarray,
    weight: np.ndarray,
    keep: np.ndarray,
) -> None:
    """Remove preventable absences in the `weeks` weeks from each treated student's start:
    each with the chance days / (the student's preventable days absent in those weeks), all
    of them when they add up to no more than `days`. So a student recovers `days` in
    expectation (fewer if they would not have missed that many), and the days actually
    removed are recorded for the benchmark to compare with."""
    chance = stream("history", "planted-days", year.start_year).random(len(row))
    by_row = np.argsort(row, kind="stable")
    sorted_rows = row[by_row]
    span = 7 * planted.weeks
    for r, kind, started in treated:
        lo, hi = np.searchsorted(sorted_rows, [r, r + 1])
        mine = by_row[lo:hi]
        dates = date[mine]
        window = mine[(dates >= started) & (dates < started + span) & keep[mine]]
        window = window[preventable[window]]
        total = float(weight[window].sum())
        share = 1.0 if total <= planted.days[kind] else planted.days[kind] / total
        removed = window[chance[window] < share]
        keep[removed] = False
        history.planted.append(
            {
                "student": int(year.student[r]),
                "kind": kind,
                "started_on": started,
                "removed": float(weight[removed].sum()),
            }
        )


def _contact(
    rng: random.Random, on: int, by: str, *, channel: str = "", first: bool = False
) -> dict:
    """A contact with a guardian; the channel (if not given) and guardian are chosen later."""
    outcome = OUTCOMES[min(bisect.bisect_right(OUTCOME_SHARES, rng.random()), len(OUTCOMES) - 1)]
    if channel in ("home_visit", "meeting"):
        outcome = "reached"
    return {
        "contacted_on": on,
        "channel": channel,  # empty: the guardian's preferred channel
        "guardian_rank": 1 if first or rng.random() < 0.8 else 2,
        "outcome": outcome,
        "by": by,
    }


def _case(
    rng: random.Random,
    history: History,
    year: YearView,
    r: int,
    day: int,
    tier: int,
    grade_bands: dict[int, tuple[int, int]],
) -> dict:
    """A case opened on school day `day` at the student's school that day."""
    in_b = year.school_b[r] >= 0 and year.entry_b[r] <= day
    school = int(year.school_b[r] if in_b else year.school_a[r])
    counselors = history.counselors[school]
    low, high = grade_bands[school]
    band = (int(year.grade[r]) - low) * len(counselors) // max(1, high - low + 1)
    counselor = counselors[min(max(band, 0), len(counselors) - 1)]
    opened = int(year.columns[day])
    return {
        "student": int(year.student[r]),
        "school": school,
        "tier": tier,
        "source": "tier_change" if rng.random() < 0.7 else "manual",
        "opened_on": opened,
        "counselor": counselor,
        "principal": history.principals[school],
        "unassigned_draw": float(rng.random()),
        "closed_on": None,
        "close_reason": "",
        "close_note": "",
        "barriers": [],
        "plans": [],
        "interventions": [],
        "follow_ups": [],
        "contacts": [_contact(rng, opened, "manager", first=True)],
        "referrals": [],
    }


def _barriers(
    rng: random.Random, year: YearView, r: int, ill: float, absent: float, case: dict
) -> list[dict]:
    """One or two barriers, drawn with weights that follow what the data shows."""
    weight = np.full(len(BARRIERS), 1.0)
    weight[BARRIERS.index("housing")] = 12.0 if year.homeless[r] else 0.3
    weight[BARRIERS.index("transportation")] = 3.0 if year.rider[r] else 0.5
    weight[BARRIERS.index("health")] = 1.0 + 6.0 * ill / max(absent, 1.0)
    secondary = year.grade[r] >= 6
    weight[BARRIERS.index("work")] = 1.5 if year.grade[r] >= 10 else 0.0
    weight[BARRIERS.index("disengagement")] = 4.0 if secondary else 0.5
    weight[BARRIERS.index("misconceptions")] = 0.5 if secondary else 3.0
    weight[BARRIERS.index("caring-for-siblings")] = 1.0 if secondary else 0.3
    count = 1 if rng.random() < 0.6 else 2
    chosen: list[int] = []
    weights = weight.tolist()
    for _ in range(count):  # without replacement: a chosen barrier's weight drops to 0
        pick = rng.choices(range(len(BARRIERS)), weights=weights)[0]
        chosen.append(pick)
        weights[pick] = 0.0
    on = case["opened_on"] + rng.randrange(0, 8)
    return [{"barrier": BARRIERS[b], "recorded_on": on, "note": ""} for b in sorted(chosen)]


def _primary(rng: random.Random, case: dict) -> str:
    """The case's main intervention: uniform over its tier's list (see CASE_TYPES)."""
    kinds = CASE_TYPES[case["tier"]]
    return kinds[rng.randrange(len(kinds))]


def _close(
    rng: random.Random,
    year: YearView,
    case: dict,
    r: int,
    start: int,
    absent_so_far: np.ndarray,
    days_so_far: np.ndarray,
) -> None:
    """When and why the case closes (drawn whole; the cut at today may leave it open)."""
    days = len(year.columns)
    last = int(year.exit_b[r] if year.school_b[r] >= 0 else year.exit_a[r])
    # Goal met: at a review 40 or more school days after the start, a rate since the start
    # under 6%, and the team agrees (60%).
    for review in range(start + 40, min(last, days - 1) + 1, REVIEW_EVERY):
        since = absent_so_far[r, review] - absent_so_far[r, start]
        enrolled = days_so_far[r, review] - days_so_far[r, start]
        if enrolled >= 30 and since / enrolled < 0.06 and rng.random() < 0.6:
            case["closed_on"] = int(year.columns[review])
            case["close_reason"] = "goal_met"
            return
    reason = year.exit_reason[r]
    if reason in ("moved_out_of_district", "dropped_out"):
        case["closed_on"] = int(year.columns[last])
        case["close_reason"] = "moved" if reason == "moved_out_of_district" else "other"
        case["close_note"] = "" if reason == "moved_out_of_district" else "Left school."
        return
    since = absent_so_far[r, last] - absent_so_far[r, start]
    enrolled = max(days_so_far[r, last] - days_so_far[r, start], 1)
    case["closed_on"] = int(year.last_day)
    if since / enrolled >= 0.3 and year.grade[r] >= 6 and rng.random() < 0.5:
        case["close_reason"] = "truancy"
    elif since / enrolled < 0.1:
        case["close_reason"] = "goal_met"
    else:
        case["close_reason"] = "other"
        case["close_note"] = "End of the school year; to be reviewed in the fall."


def _work_case(rng: random.Random, case: dict, started: int) -> None:
    """Plan, follow-ups, contacts and referrals of a case, all dated; the cut comes later."""
    opened, closed = case["opened_on"], case["closed_on"]
    if case["tier"] == 3 or rng.random() < 0.5:
        written = min(opened + rng.randrange(3, 12), closed)
        review = written + 28
        late = rng.random()
        reviewed = review - rng.randrange(0, 3) if late < 0.75 else review + 7
        case["plans"].append(
            {
                "goal_rate": "0.900" if case["tier"] == 3 else "0.950",
                "goal_until": written + 70,
                "steps": [
                    {"step": "Get to school on time every day", "who": "student"},
                    {"step": "Call the school by 9 when the student is out", "who": "family"},
                    {"step": "Check in every week", "who": "case manager"},
                ],
                "written_on": written,
                "review_on": review,
                "reviewed_on": reviewed if late < 0.9 and reviewed <= closed else None,
                "review_note": "Fewer absences since the plan; keep the steps.",
            }
        )
        case["contacts"].append(_contact(rng, written, "manager", channel="meeting"))
    kinds = [intervention["kind"] for intervention in case["interventions"]]
    if "home-visit" in kinds:
        case["contacts"].append(_contact(rng, started, "manager", channel="home_visit"))
    referred = []
    if "community-referral" in kinds:
        referred.append(_partner_for(case))
    if "transportation-help" in kinds and rng.random() < 0.5:
        referred.append("transit-access")
    for key in referred:
        status = ("accepted", "in_progress", "completed", "declined")[rng.randrange(4)]
        case["referrals"].append(
            {"partner": key, "made_on": started, "status": status, "status_on": started + 10}
        )
    # Follow-ups every three weeks: most done on time, some late, a few never.
    due = opened + 7
    scheduled = opened
    while due <= closed:
        draw = rng.random()
        if draw < 0.7:
            done = due - rng.randrange(0, 3)
        elif draw < 0.9:
            done = due + rng.randrange(1, 11)
        else:
            done = None
        text = FOLLOW_UP_TEXTS[rng.randrange(len(FOLLOW_UP_TEXTS))]
        outcome = FOLLOW_UP_OUTCOMES[rng.randrange(len(FOLLOW_UP_OUTCOMES))]
        if done is not None:
            done = max(done, scheduled)
        case["follow_ups"].append(
            {
                "description": text,
                "scheduled_on": scheduled,
                "due_on": due,
                "done_on": done,
                "outcome": outcome,
            }
        )
        if done is not None and "family" in text.lower():
            case["contacts"].append(_contact(rng, done, "manager"))
        scheduled, due = due, due + 21


def _planted_summary(history: History, planted: PlantedDays, today: int) -> dict:
    """Per type with planted days: what was asked and what was removed, over the students
    whose weeks after the start ended before `today` (the ones an analysis can see whole)."""
    summary = {}
    for kind, days in sorted(planted.days.items()):
        whole = [
            p
            for p in history.planted
            if p["kind"] == kind and p["started_on"] + 7 * planted.weeks <= today
        ]
        removed = sum(p["removed"] for p in whole)
        summary[kind] = {
            "days": days,
            "weeks": planted.weeks,
            "students": len(whole),
            "removed_per_student": removed / len(whole) if whole else None,
        }
    return summary


def _partner_for(case: dict) -> str:
    """The partner addressing the case's first barrier it can, else the family center."""
    for barrier in case["barriers"]:
        for key, _name, _services, barriers, _languages, _capacity in PARTNERS:
            if barrier["barrier"] in barriers:
                return key
    return "family-resource-center"


def finish(
    history: History,
    *,
    today: int,
    school_ids: np.ndarray,
    student_ids: np.ndarray,
    guardians: dict[str, list[tuple[str, str, str]]],
    homeroom_teacher: Callable[[str, int], str | None],
    effects: dict[str, float],
    planted: PlantedDays | None = None,
) -> dict:
    """The history as written to interventions.json: ids, ISO dates, cut at `today`.

    `guardians[student_id]` lists (guardian id, preferred language, preferred channel) by
    contact priority; `homeroom_teacher(student_id, ordinal)` names the teacher of the
    student's homeroom that day. Nothing dated on or after `today` is kept: a case closed
    later is open, a follow-up done later is not done, a plan reviewed later is not.
    """

    def when(ordinal):
        return _iso(ordinal) if ordinal is not None and ordinal < today else None

    def contact(record: dict, student: str, by: str) -> dict | None:
        links = guardians.get(student) or []
        if not links or record["contacted_on"] >= today:
            return None
        guardian, language, preferred = links[min(record["guardian_rank"], len(links)) - 1]
        channel = record["channel"] or CHANNEL_OF_PREFERENCE.get(preferred, "call")
        outcome = record["outcome"]
        if channel in ("email", "letter") and outcome in ("wrong_number", "left_message"):
            outcome = "no_answer"
        return {
            "contacted_on": _iso(record["contacted_on"]),
            "channel": channel,
            "guardian_id": guardian,
            "outcome": outcome,
            "language": language or "en",
            "by": by,
        }

    # Each school's latest open case waits for its manager, so every principal has one to
    # assign (in a small district it may be weeks old); other recent cases wait with
    # UNASSIGNED_SHARE's chance.
    latest: dict[int, int] = {}
    for number, case in enumerate(history.cases):
        still_open = case["closed_on"] is None or case["closed_on"] >= today
        if case["opened_on"] < today and still_open:
            best = latest.get(case["school"])
            if best is None or history.cases[best]["opened_on"] <= case["opened_on"]:
                latest[case["school"]] = number
    waiting = set(latest.values())

    cases = []
    for number, case in enumerate(history.cases):
        if case["opened_on"] >= today:
            continue
        student = str(student_ids[case["student"]])
        unassigned = number in waiting or (
            today - case["opened_on"] <= UNASSIGNED_DAYS
            and case["unassigned_draw"] < UNASSIGNED_SHARE
        )
        manager = None if unassigned else case["counselor"]
        opener = case["principal"] if unassigned else case["counselor"]
        closed = when(case["closed_on"])
        owner = manager or opener
        out = {
            "student_id": student,
            "school_id": str(school_ids[case["school"]]),
            "tier": case["tier"],
            "source": case["source"],
            "opened_on": _iso(case["opened_on"]),
            "opened_by": opener,
            "case_manager": manager,
            "closed_on": closed,
            "close_reason": case["close_reason"] if closed else "",
            "close_note": case["close_note"] if closed else "",
            "barriers": [
                {**b, "recorded_on": _iso(b["recorded_on"])}
                for b in case["barriers"]
                if b["recorded_on"] < today
            ],
            "plans": [],
            "interventions": [],
            "follow_ups": [],
            "contacts": [],
            "referrals": [],
        }
        end = case["closed_on"] if closed else None
        for intervention in case["interventions"]:
            if intervention["started_on"] < today:
                out["interventions"].append(
                    {
                        **intervention,
                        "started_on": _iso(intervention["started_on"]),
                        "ended_on": when(end),
                    }
                )
        # A case still waiting for its manager has no plan, follow-ups or referrals yet.
        if not unassigned:
            for plan in case["plans"]:
                if plan["written_on"] >= today:
                    continue
                out["plans"].append(
                    {
                        **plan,
                        "goal_until": _iso(plan["goal_until"]),
                        "written_on": _iso(plan["written_on"]),
                        "review_on": _iso(plan["review_on"]),
                        "reviewed_on": when(plan["reviewed_on"]),
                        "review_note": plan["review_note"] if when(plan["reviewed_on"]) else "",
                    }
                )
            for follow_up in case["follow_ups"]:
                if follow_up["scheduled_on"] >= today:
                    continue
                done = when(follow_up["done_on"])
                out["follow_ups"].append(
                    {
                        **follow_up,
                        "scheduled_on": _iso(follow_up["scheduled_on"]),
                        "due_on": _iso(follow_up["due_on"]),
                        "done_on": done,
                        "outcome": follow_up["outcome"] if done else "",
                    }
                )
            for referral in case["referrals"]:
                if referral["made_on"] >= today:
                    continue
                status = referral["status"] if referral["status_on"] < today else "made"
                on = referral["status_on"] if status != "made" else referral["made_on"]
                out["referrals"].append(
                    {
                        **referral,
                        "made_on": _iso(referral["made_on"]),
                        "status": status,
                        "status_on": _iso(on),
                    }
                )
        for record in case["contacts"]:
            if unassigned and record["channel"] == "meeting":
                continue
            if made := contact(record, student, owner):
                out["contacts"].append(made)
        cases.append(out)

    tier1 = []
    for action in history.tier1:
        if action["started_on"] >= today:
            continue
        student = str(student_ids[action["student"]])
        teacher = homeroom_teacher(student, action["started_on"])
        if teacher is None:
            continue
        contacts = [c for r in action["contacts"] if (c := contact(r, student, teacher))]
        tier1.append(
            {
                "student_id": student,
                "owner": teacher,
                "kind": action["kind"],
                "started_on": _iso(action["started_on"]),
                "ended_on": when(action["ended_on"]),
                "contacts": contacts,
            }
        )

    not_opened = [
        {
            "student_id": str(student_ids[n["student"]]),
            "school_year": n["school_year"],
            "reason": n["reason"],
            "on": _iso(n["on"]),
            "note": n["note"],
        }
        for n in history.not_opened
        if n["on"] < today
    ]
    partners = [
        {
            "key": key,
            "name": name,
            "services": services,
            "barriers": list(barriers),
            "languages": list(languages),
            "capacity": capacity,
            "phone": f"(978) 555-{7100 + k:04d}",
            "email": f"referrals@{key}.example.org",
        }
        for k, (key, name, services, barriers, languages, capacity) in enumerate(PARTNERS)
    ]
    return {
        "version": 1,
        "planted_effects": dict(sorted(effects.items())),
        "planted_days": _planted_summary(history, planted or PlantedDays(), today),
        "staff": [
            {key: value for key, value in s.items() if key != "school"}
            | {"school_id": str(school_ids[s["school"]])}
            for s in history.staff
        ],
        "partners": partners,
        "cases": cases,
        "tier1": tier1,
        "not_opened": not_opened,
    }
