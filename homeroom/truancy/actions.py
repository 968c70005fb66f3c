"""Writes of truancy escalation: choosing the pack, the nightly search for eligible
students, approving and declining steps, meetings, documents.

Every action checks access through the gatekeeper (`homeroom.access.truancy`), validates
before writing (a `ValidationError` naming the field, nothing saved), and writes its
timeline event (`interventions.CaseEvent`, kind `truancy`) and audit entry in the same
transaction as the change. A step changes only at the version its decider read.
"""

import datetime as dt
import json
import re
import tomllib
from collections import defaultdict
from typing import NamedTuple

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from homeroom.access.truancy import edits_truancy_pack
from homeroom.core.actions import do_log_district_change, do_log_student_access, in_records_language
from homeroom.core.models import AuditEntry, District
from homeroom.core.selectors import current_school_year, district_today
from homeroom.interventions.models import Case, CaseEvent, Intervention
from homeroom.metrics import display
from homeroom.outreach.actions import Draft, queue_many
from homeroom.outreach.models import Message, MessageKind
from homeroom.roster.models import ContactChannel, Enrollment
from homeroom.truancy import documents
from homeroom.truancy.evaluation import (
    Absence,
    Finding,
    Recorded,
    blocking,
    next_step,
    next_steps,
    one_a_day,
)
from homeroom.truancy.models import (
    AttendanceMeeting,
    DistrictPack,
    TruancyDocument,
    TruancyRun,
    TruancyStep,
)
from homeroom.truancy.packs import Pack, PackError, load_pack, read_pack, shipped_packs
from homeroom.truancy.selectors import (
    FEW_STUDENTS,
    characteristics_on,
    counted_absences,
    counted_summaries,
    days_enrolled,
    district_pack,
    family_language,
    notice_guardian,
    of_students,
    recorded_steps,
    school_days,
    school_days_after,
    source_parts,
    step_with_access,
)

Status = TruancyStep.Status
PENDING = (Status.ELIGIBLE, Status.APPROVED, Status.BLOCKED)


# --------------------------------------------------------------------------------------
# The district's pack


def do_choose_pack(user, *, based_on: str, text: str = "") -> DistrictPack:
    """Set the district's pack: a shipped one, or its own copy (TOML with `based_on`);
    the copy is checked first and a mistake changes nothing."""
    if not edits_truancy_pack(user):
        raise PermissionDenied("Only the district's administrators choose its truancy pack.")
    if based_on not in shipped_packs():
        raise ValidationError({"based_on": f"Choose one of {', '.join(shipped_packs())}."})
    if text.strip():
        # The copy names its base: the one chosen, written in if the text leaves it out.
        if not re.search(r"^\s*based_on\s*=", text, re.MULTILINE):
            text = f'based_on = "{based_on}"\n' + text
        try:
            copy = read_pack(text)
        except PackError as error:
            raise ValidationError({"text": str(error)}) from None
        if copy.name != load_pack(based_on).name and "name" not in _own_keys(text):
            raise ValidationError({"text": f'The copy must say based_on = "{based_on}".'})
    with transaction.atomic():
        chosen, created = DistrictPack.objects.get_or_create(
            district=user.district,
            defaults={"based_on": based_on, "text": text, "updated_by": user},
        )
        if not created:
            chosen.based_on, chosen.text, chosen.updated_by = based_on, text, user
            chosen.revision = F("revision") + 1
            chosen.save()
            chosen.refresh_from_db()
        do_log_district_change(
            user=user,
            subject="truancy pack",
            details={"based_on": based_on, "revision": chosen.revision},
        )
    return chosen


def _own_keys(text: str) -> set[str]:
    """The top-level keys a district's copy sets itself (it parsed already)."""
    return set(tomllib.loads(text))


# --------------------------------------------------------------------------------------
# The nightly search


class EvidenceText:
    """Steps' evidence, what a step is decided on frozen as plain data, written as JSON text
    (a night writes tens of thousands, each a few kilobytes): `pack` (label), `as_of`,
    `student` (id, name, local and state ids), `enrollment` (`_enrollment_part`) and
    `counted`, each absence with its event id, date, code, category, whether a full day,
    minutes missed and `source` (`selectors.source_of`). The pieces steps share (the pack
    and date, each code's words, each date, each import run and file's words) are encoded
    once; each absence is one format. The text is what `json.dumps` of the same data gives.
    """

    def __init__(self, pack: Pack, label: str, as_of: dt.date):
        self.full_days = set(pack.full_day_categories)
        self.head = f'{{"pack": {json.dumps(label)}, "as_of": "{as_of.isoformat()}", "student": '
        self.codes: dict[tuple[str, str], str] = {}
        self.dates: dict[dt.date, str] = {}
        self.sources: dict[tuple[int | None, str], tuple[str, str, str]] = {}

    def text(self, absences, *, student: tuple, enrollment: dict | None) -> str:
        """One step's evidence. `student`: (id, first name, last name, local id, state id)."""
        pk, first_name, last_name, local_id, state_id = student
        about = {
            "id": pk,
            "name": f"{first_name} {last_name}",
            "local_id": local_id,
            "state_id": state_id,
        }
        counted = ", ".join(map(self._absence, absences))
        return (
            f"{self.head}{json.dumps(about)}, "
            f'"enrollment": {json.dumps(enrollment or NOT_ENROLLED)}, "counted": [{counted}]}}'
        )

    def _absence(self, a: Absence) -> str:
        code = self.codes.get((a.code, a.category))
        if code is None:
            full_day = "true" if a.category in self.full_days else "false"
            code = self.codes[a.code, a.category] = (
                f'"code": {json.dumps(a.code)}, "category": {json.dumps(a.category)}, '
                f'"full_day": {full_day}'
            )
        date = self.dates.get(a.date)
        if date is None:
            date = self.dates[a.date] = a.date.isoformat()
        source = self.sources.get((a.run_id, a.file))
        if source is None:
            # source_of's words around the line, JSON-quoted: '"import run 12 (f, ' ')"'.
            (before, after), without = source_parts(a.run_id, a.file)
            source = json.dumps(before)[:-1], json.dumps(after)[1:], json.dumps(without)
            self.sources[a.run_id, a.file] = source
        words = f"{source[0]}line {a.line}{source[1]}" if a.line else source[2]
        minutes = "null" if a.minutes_missed is None else int(a.minutes_missed)
        return (
            f'{{"event_id": {a.event_id}, "date": "{date}", {code}, '
            f'"minutes_missed": {minutes}, "source": {words}}}'
        )


def counted_key(pairs) -> str:
    """Counted events, compact, from their (event id, code) pairs: 'id:code,id:code'."""
    return ",".join(f"{event_id}:{code}" for event_id, code in pairs)


def _still_counted(key: str, current: dict[int, Absence]) -> bool:
    """Whether every event of a step's compact evidence still counts with the same code."""
    for pair in filter(None, key.split(",")):
        event_id, code = pair.split(":", 1)
        now = current.get(int(event_id))
        if now is None or now.code != code:
            return False
    return True


NOT_ENROLLED = {"school": "", "school_id": None, "grade": "", "entry_date": None, "exit_date": None}
GRADES = {value: str(label) for value, label in Enrollment._meta.get_field("grade").flatchoices}


def _enrollment_part(school_id, school, grade, entry_date, exit_date) -> dict:
    """An enrollment as a step's evidence holds it."""
    return {
        "school": school,
        "school_id": school_id,
        "grade": GRADES.get(grade, grade),
        "entry_date": entry_date.isoformat(),
        "exit_date": exit_date.isoformat() if exit_date else None,
    }


def _enrollments_on(student_ids: list[int], year, days: dict[int, dt.date]) -> dict:
    """Each student's enrollment on their date (else their latest of the year), as the
    evidence holds it (read as plain values: a night may need tens of thousands)."""
    chosen: dict[int, tuple] = {}
    rows = (
        of_students(Enrollment.objects.filter(school_year=year), set(student_ids))
        .order_by("entry_date", "pk")
        .values_list("student_id", "school_id", "school__name", "grade", "entry_date", "exit_date")
    )
    for student, *enrollment in rows:
        day = days.get(student)
        if day is None:
            continue  # another student's (the district's rows were read at once)
        entry_date = enrollment[3]
        if student not in chosen or entry_date <= day:
            chosen[student] = enrollment
    return {student: _enrollment_part(*enrollment) for student, enrollment in chosen.items()}


def _due_on(step, days: list[dt.date], eligible_on: dt.date) -> dt.date | None:
    """The step's deadline: school days on the school's `days`, or calendar days."""
    if step.deadline_school_days:
        return school_days_after(days, eligible_on, step.deadline_school_days)
    if step.deadline_days:
        return eligible_on + dt.timedelta(days=step.deadline_days)
    return None


def _changed(evidence: dict, current: dict[int, Absence]) -> list[str]:
    """The counted absences of `evidence` that no longer count or changed code, in words."""
    changes = []
    for absence in evidence.get("counted", []):
        now = current.get(absence["event_id"])
        on = display.date(dt.date.fromisoformat(absence["date"]))
        if now is None:
            changes.append(f"the absence of {on} ({absence['code']}) no longer counts")
        elif now.code != absence["code"]:
            changes.append(f"the absence of {on} changed from {absence['code']} to {now.code}")
    return changes


def _review_changed_evidence(year, absences: list[Absence], students: set[int]) -> list:
    """Put under review each pending step whose evidence, or an earlier sent step's, has an
    absence that no longer counts (excused in the SIS after the step was found); says
    which. Reads the compact evidence of the `students`' steps only (those whose counted
    events changed since the last night), the full evidence of the few that changed.
    Returns the steps it put under review."""
    current = {absence.event_id: absence for absence in absences}
    rows = (
        of_students(TruancyStep.objects.filter(school_year=year), students)
        .exclude(status=Status.DECLINED)
        .values_list("student_id", "counted_events")
    )
    changed = {
        student for student, key in rows if student in students and not _still_counted(key, current)
    }
    if not changed:
        return []
    steps = TruancyStep.objects.filter(school_year=year, student_id__in=changed).exclude(
        status=Status.DECLINED
    )
    by_student: dict[int, list[TruancyStep]] = defaultdict(list)
    for step in steps.order_by("position"):
        by_student[step.student_id].append(step)
    reviewed = []
    for student_steps in by_student.values():
        reasons: list[str] = []
        for step in student_steps:
            changes = _changed(step.evidence, current)
            if changes:
                reasons.append(f"{step.title}: " + "; ".join(changes))
            if step.status in PENDING and reasons:
                step.status, step.review_reason = Status.REVIEW, " / ".join(reasons)[:500]
                step.version += 1
                step.save(update_fields=["status", "review_reason", "version"])
                reviewed.append(step)
    return reviewed


def _fingerprint(summary: tuple | None, steps: dict | None, enrolled: int | None) -> str:
    """All a student's evaluation reads, in short: the summary of their counted events
    (`selectors.counted_summaries`), their steps (key, status, when done) and, for a pack
    with a rate step, their days enrolled. The same fingerprint: the same evaluation."""
    recorded = ",".join(f"{key}:{r.status}:{r.done_on}" for key, r in sorted((steps or {}).items()))
    return f"{':'.join(map(str, summary or ()))}|{recorded}|{enrolled}"


def do_find_eligible(district: District, *, as_of: dt.date) -> dict:
    """The nightly step: every student who reached the next step of the district's pack is
    recorded as eligible (or blocked, saying by what), with the evidence frozen; pending
    steps whose absences were excused since go under review. Safe to repeat.

    Incremental: the database sums up each student's counted events (one row a student),
    and only the students whose summary, steps or days enrolled changed since the last
    night under the same pack and year are evaluated (their events read, the engine run,
    the excusal check made). An evaluation reads nothing else, so another student's would
    find what it found the night before: nothing new."""
    chosen = district_pack(district)
    year = current_school_year(district.pk, as_of)
    if chosen is None or year is None:
        return {"pack": None, "eligible": 0, "blocked": 0, "review": 0, "evaluated": 0}
    pack, label = chosen
    rate = any(step.unexcused_rate for step in pack.steps)
    with transaction.atomic():
        last = TruancyRun.objects.select_for_update().filter(district=district).first()
        same_rules = last is not None and (last.school_year_id, last.pack) == (year.pk, label)
        before = last.fingerprints if same_rules else {}
        summaries = counted_summaries(district, pack, start=year.start_date, end=as_of)
        recorded = recorded_steps(year)
        enrolled = days_enrolled(year) if rate else {}

        def fingerprint(student: int) -> str:
            summary = summaries.get(student)
            return _fingerprint(summary, recorded.get(student), enrolled.get(student))

        prints = {student: fingerprint(student) for student in summaries.keys() | recorded.keys()}
        changed = {s for s, digest in prints.items() if before.get(str(s)) != digest}
        few = len(changed) <= FEW_STUDENTS
        absences = counted_absences(
            district,
            pack,
            start=year.start_date,
            end=as_of,
            student_ids=sorted(changed) if few else None,
        )
        if not few:
            absences = [absence for absence in absences if absence.student_id in changed]
        reviewed = _review_changed_evidence(year, absences, changed)
        for step in reviewed:
            recorded[step.student_id][step.key] = Recorded(step.status, step.sent_on)
        findings = next_steps(
            pack,
            absences,
            {student: recorded[student] for student in changed if student in recorded},
            as_of=as_of,
            days_enrolled=enrolled if rate else None,
        )
        created = _record_findings(pack, label, year, findings, as_of)
        for step in created:
            recorded.setdefault(step.student_id, {})[step.key] = Recorded(step.status, None)
        for student in {step.student_id for step in [*reviewed, *created]}:
            prints[student] = fingerprint(student)
        # A student found but not recorded (not enrolled this year) is evaluated again.
        for student in {f.student_id for f in findings} - {s.student_id for s in created}:
            prints.pop(student, None)
        TruancyRun.objects.update_or_create(
            district=district,
            defaults={
                "school_year": year,
                "pack": label,
                "as_of": as_of,
                "fingerprints": {str(s): digest for s, digest in prints.items()},
            },
        )
    return {
        "pack": label,
        "eligible": sum(1 for s in created if s.status == Status.ELIGIBLE),
        "blocked": sum(1 for s in created if s.status == Status.BLOCKED),
        "review": len(reviewed),
        "evaluated": len(changed),
    }


STUDENT_FIELDS = ("pk", "first_name", "last_name", "local_id", "state_id")


def _record_findings(pack: Pack, label: str, year, findings: list[Finding], as_of: dt.date):
    ids = [finding.student_id for finding in findings]
    held = characteristics_on([f.student_id for f in findings if f.step.blocked_by], as_of)
    enrollments = _enrollments_on(ids, year, {f.student_id: f.eligible_on for f in findings})
    found = set(ids)
    open_cases = dict(
        of_students(Case.objects.filter(status=Case.Status.OPEN), found).values_list(
            "student_id", "pk"
        )
    )
    students = {
        row[0]: row
        for row in of_students(year.district.students.all(), found, field="pk").values_list(
            *STUDENT_FIELDS
        )
        if row[0] in found
    }
    deadlines = {s.key for s in pack.steps if s.deadline_school_days}
    calendars = school_days(
        year,
        {
            enrollments[f.student_id]["school_id"]
            for f in findings
            if f.step.key in deadlines and f.student_id in enrollments
        },
    )
    positions = {step.key: n for n, step in enumerate(pack.steps, start=1)}
    writer = EvidenceText(pack, label, as_of)
    rows, created = [], []
    for finding in findings:
        enrollment = enrollments.get(finding.student_id)
        if enrollment is None:
            continue  # not enrolled this year: no school to act
        blocked = blocking(finding.step, held.get(finding.student_id, set()))
        step = finding.step
        status = (Status.BLOCKED if blocked else Status.ELIGIBLE).value  # a plain str
        evidence = writer.text(
            finding.absences, student=students[finding.student_id], enrollment=enrollment
        )
        due_on = _due_on(step, calendars.get(enrollment["school_id"], []), finding.eligible_on)
        # In the order of NEW_STEP_FIELDS.
        rows.append(
            (
                finding.student_id,
                enrollment["school_id"],
                year.pk,
                open_cases.get(finding.student_id),
                step.key,
                positions[step.key],
                step.title,
                step.kind,
                step.statute,
                label,
                status,
                finding.eligible_on.isoformat(),
                due_on.isoformat() if due_on else None,
                evidence,
                counted_key((a.event_id, a.code) for a in finding.absences),
                _blocked_reason(blocked, step.statute),
            )
        )
        created.append(NewStep(finding.student_id, step.key, status))
    _insert(rows)
    return created


class NewStep(NamedTuple):
    """A step a night created, as the night's counts and fingerprints need it."""

    student_id: int
    key: str
    status: str


# The columns a night's new step sets itself, in the order of `_record_findings`' rows (the
# evidence as JSON text, the dates as ISO text); the others take their model default.
NEW_STEP_FIELDS = (
    "student",
    "school",
    "school_year",
    "case",
    "key",
    "position",
    "title",
    "kind",
    "statute",
    "pack",
    "status",
    "eligible_on",
    "due_on",
    "evidence",
    "counted_events",
    "blocked_reason",
)


def _insert(rows: list[tuple]) -> None:
    """Insert a night's new steps from their rows of plain values, without a model instance
    a step (making them, and Django preparing each field of each, took longer than the
    insert itself: docs/benchmarks.md, "Truancy"). On PostgreSQL by COPY (`bulk_create`
    sends each column as an array, which psycopg quotes in Python character by character,
    and each step's evidence is a few kilobytes of JSON); elsewhere by one executemany.
    The other columns take their model default, `created_at` the night's time."""
    if not rows:
        return
    meta = TruancyStep._meta
    own = [meta.get_field(name) for name in NEW_STEP_FIELDS]
    rest = [field for field in meta.concrete_fields if not field.primary_key and field not in own]
    now = timezone.now()
    defaults = tuple(
        field.get_db_prep_save(
            now if getattr(field, "auto_now_add", False) else field.get_default(), connection
        )
        for field in rest
    )
    columns = ", ".join(connection.ops.quote_name(field.column) for field in [*own, *rest])
    table = connection.ops.quote_name(meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row + defaults)
        else:
            marks = ", ".join(["%s"] * (len(own) + len(rest)))
            cursor.executemany(
                f"INSERT INTO {table} ({columns}) VALUES ({marks})",
                [row + defaults for row in rows],
            )


def _blocked_reason(kinds: tuple[str, ...], statute: str) -> str:
    if not kinds:
        return ""
    names = ", ".join(kind.replace("_", " ") for kind in kinds)
    return f"The student's record shows {names}: {statute} bars this step while it holds."


# --------------------------------------------------------------------------------------
# Deciding a step


def _step_to_decide(user, step_id: int, version: int):
    step, access = step_with_access(user, step_id)
    if not access.decides:
        raise PermissionDenied("Your role does not decide this step of the escalation.")
    if step.version != version:
        raise ValidationError(
            {
                "version": f"This step was changed meanwhile (it is now at version "
                f"{step.version}): reload it and decide again."
            }
        )
    return step, access


def _save(step: TruancyStep, *fields: str) -> None:
    step.version += 1
    step.save(update_fields=[*fields, "version"])


def _event(user, step: TruancyStep, on: dt.date, summary: str, **details) -> None:
    CaseEvent.objects.create(
        student_id=step.student_id,
        case_id=step.case_id,
        kind=CaseEvent.Kind.TRUANCY,
        on=on,
        by=user,
        summary=summary[:300],
        details={"step_id": step.pk, "key": step.key, **details},
    )


def _audit(user, step: TruancyStep, access, what: str, action: str, **details) -> None:
    do_log_student_access(
        user=user,
        student_id=step.student_id,
        subject=f"truancy {what}",
        access_reason=str(access.student.grant),
        action=action,
        details={"step_id": step.pk, **details},
    )


def _current_evidence(step: TruancyStep, pack: Pack, label: str, as_of: dt.date) -> dict:
    """The step's evidence read again now; `ValidationError` if the student no longer
    reaches the step (an absence was excused since it was found)."""
    absences = counted_absences(
        step.student.district,
        pack,
        start=step.school_year.start_date,
        end=as_of,
        student_ids=[step.student_id],
    )
    recorded = recorded_steps(step.school_year).get(step.student_id, {})
    recorded = {key: value for key, value in recorded.items() if key != step.key}
    found = next_step(
        pack,
        one_a_day(absences),
        recorded,
        as_of=as_of,
        days_enrolled=days_enrolled(step.school_year).get(step.student_id)
        if pack.step(step.key).unexcused_rate
        else None,
    )
    if found is None or found[0].key != step.key:
        raise ValidationError(
            {
                "step": "The student no longer reaches this step on the attendance as it is "
                f"now ({step.review_reason or 'an absence changed'}): decline it with a reason."
            }
        )
    latest = (
        Enrollment.objects.filter(student_id=step.student_id, school_year=step.school_year)
        .order_by("-entry_date")
        .values_list("school_id", "school__name", "grade", "entry_date", "exit_date")
        .first()
    )
    student = step.student
    text = EvidenceText(pack, label, as_of).text(
        found[2],
        student=tuple(getattr(student, field) for field in STUDENT_FIELDS),
        enrollment=_enrollment_part(*latest) if latest else None,
    )
    return json.loads(text)


def send_notice_through_outreach(
    user, step: TruancyStep, document: TruancyDocument, *, guardian, access_reason: str
) -> list[str]:
    """Hand an approved notice to the outreach app's outbox, in the caller's transaction:
    a letter mailed to the guardian's address and, where they consented to email, an email,
    both in the letter's language with the pack's wording (`documents.notice_words`). The
    outbox's rules decide (contact rights, consent, an address for the channel); each
    message's key is the step's, so a notice is queued once whatever happens. The messages
    are linked to the document, whose `delivery` says how it goes ("letter and email", or
    "printed" when no message could be queued: the school mails the PDF itself).

    Returns why a channel was not used, in words (empty when the letter was queued)."""
    if guardian is None:
        document.delivery = "printed"
        document.save(update_fields=["delivery"])
        return ["no guardian on the roster may be contacted: the school mails the letter"]
    words = documents.notice_words(document.snapshot)
    drafts = [
        Draft(
            district=step.student.district,
            kind=MessageKind.TRUANCY_NOTICE,
            channel=channel,
            guardian=guardian,
            students=(step.student,),
            key=f"truancy:{step.pk}:{channel}",
            values={},
            stated={
                "step_id": step.pk,
                "document_id": document.pk,
                "statute": step.statute,
                "sha256": document.sha256,
            },
            user=user,
            case=step.case,
            access_reason=access_reason,
            words=words,
        )
        for channel in (ContactChannel.LETTER, ContactChannel.EMAIL)
    ]
    outcomes = queue_many(drafts)
    messages = [outcome for outcome in outcomes if isinstance(outcome, Message)]
    document.messages.set(messages)
    channels = [ContactChannel(m.channel).label.lower() for m in messages]
    document.delivery = " and ".join(channels) if channels else "printed"
    document.save(update_fields=["delivery"])
    letter_refused = outcomes[0]
    if isinstance(letter_refused, ValidationError):
        why = " ".join(letter_refused.messages)
        return [f"no letter queued ({why}): the school mails the letter"]
    return []


def _document(user, step, kind: str, snapshot: dict) -> TruancyDocument:
    pdf = documents.render(snapshot)
    return TruancyDocument.objects.create(
        step=step,
        kind=kind,
        language=snapshot["language"],
        snapshot=snapshot,
        pdf=pdf,
        sha256=documents.fingerprint(pdf),
        created_by=user,
    )


def do_approve_step(user, *, step_id: int, version: int) -> TruancyStep:
    """Approve a step: a notice's letter is generated in the family's language and sent;
    a referral's packet is generated and the referral recorded; a meeting waits to be held.
    The evidence is read again and frozen as approved."""
    step, access = _step_to_decide(user, step_id, version)
    if step.status == Status.BLOCKED:
        raise ValidationError({"step": f"This step is blocked: {step.blocked_reason}"})
    if step.status not in (Status.ELIGIBLE, Status.REVIEW):
        raise ValidationError(
            {"step": f"This step is already {step.get_status_display().lower()}."}
        )
    pack, label = district_pack(step.student.district)
    today = district_today(user.district)
    with transaction.atomic():
        step.evidence = _current_evidence(step, pack, label, today)
        step.counted_events = counted_key(
            (a["event_id"], a["code"]) for a in step.evidence["counted"]
        )
        step.status, step.decided_by, step.decided_at = Status.APPROVED, user, timezone.now()
        step.review_reason = ""
        sent_how = ""
        if step.kind == TruancyStep.Kind.NOTICE:
            guardian = notice_guardian(step.student)
            language, guardian_name = family_language(guardian, step.student)
            snapshot = documents.notice_snapshot(
                step=step,
                letter=pack.step(step.key).letter,
                language=language,
                guardian_name=guardian_name,
                district_name=user.district.name,
                today=today,
            )
            document = _document(user, step, TruancyDocument.Kind.NOTICE, snapshot)
            unsent = send_notice_through_outreach(
                user, step, document, guardian=guardian, access_reason=str(access.student.grant)
            )
            sent_how = f" ({document.delivery}" + "".join(f"; {why}" for why in unsent) + ")"
            step.status, step.sent_on = Status.SENT, today
        elif step.kind == TruancyStep.Kind.REFERRAL:
            _document(user, step, TruancyDocument.Kind.PACKET, _packet(step, today))
            step.status, step.sent_on = Status.SENT, today
        _save(
            step,
            "evidence",
            "counted_events",
            "status",
            "decided_by",
            "decided_at",
            "review_reason",
            "sent_on",
        )
        _event(
            user,
            step,
            today,
            f"{step.title}: approved"
            + (" and sent" if step.status == Status.SENT else "")
            + sent_how,
        )
        _audit(user, step, access, "step", AuditEntry.Action.UPDATE, decision="approved")
    return step


def do_decline_step(user, *, step_id: int, version: int, reason: str) -> TruancyStep:
    """Decline a step, saying why; the student's escalation stops there for the year."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the step is declined."})
    if len(reason) > 500:
        raise ValidationError({"reason": "Keep the reason under 500 characters."})
    step, access = _step_to_decide(user, step_id, version)
    if not step.pending and step.status != Status.REVIEW:
        raise ValidationError(
            {"step": f"This step is already {step.get_status_display().lower()}."}
        )
    today = district_today(user.district)
    with transaction.atomic():
        step.status, step.decline_reason = Status.DECLINED, reason
        step.decided_by, step.decided_at = user, timezone.now()
        _save(step, "status", "decline_reason", "decided_by", "decided_at")
        _event(user, step, today, f"{step.title}: declined ({reason})")
        _audit(user, step, access, "step", AuditEntry.Action.UPDATE, decision="declined")
    return step


# --------------------------------------------------------------------------------------
# Meetings (SART) and referral packets


def do_record_meeting(
    user,
    *,
    step_id: int,
    version: int,
    held_on: dt.date,
    attendees: str,
    agreement: str,
    place: str = "",
    notes: str = "",
) -> AttendanceMeeting:
    """Record an approved meeting step as held: who came and the agreement reached, kept as
    a PDF (the attendance contract); the step is done and the next one can be reached."""
    step, access = _step_to_decide(user, step_id, version)
    errors = {}
    if step.kind != TruancyStep.Kind.MEETING or step.status != Status.APPROVED:
        errors["step"] = "Only an approved meeting step is recorded as held."
    if not isinstance(held_on, dt.date):
        errors["held_on"] = "Give the date the meeting was held."
    elif held_on > district_today(user.district):
        errors["held_on"] = "Cannot be in the future."
    if not attendees.strip():
        errors["attendees"] = "Name who attended, one a line."
    if not agreement.strip():
        errors["agreement"] = "Write what the family and the school agreed."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        meeting = AttendanceMeeting.objects.create(
            step=step,
            scheduled_for=held_on,
            held_on=held_on,
            place=place.strip(),
            attendees=attendees.strip(),
            agreement=agreement.strip(),
            notes=notes.strip(),
        )
        snapshot = documents.agreement_snapshot(
            step=step, meeting=meeting, district_name=user.district.name
        )
        _document(user, step, TruancyDocument.Kind.AGREEMENT, snapshot)
        step.status, step.sent_on = Status.SENT, held_on
        _save(step, "status", "sent_on")
        _event(user, step, held_on, f"{step.title}: held; agreement signed")
        _audit(user, step, access, "meeting", AuditEntry.Action.CREATE, meeting_id=meeting.pk)
    return meeting


# The packet is frozen in the records' language (its template's), whatever language the
# member of staff making it reads Homeroom in: its dates are written that way.
@in_records_language
def _packet(step: TruancyStep, today: dt.date) -> dict:
    """The referral packet's snapshot: notices sent, interventions tried, meetings, the
    year's attendance record."""
    earlier = TruancyStep.objects.filter(
        student_id=step.student_id, school_year=step.school_year, position__lt=step.position
    ).order_by("position")
    history = [
        {
            "title": s.title,
            "statute": s.statute,
            "status": s.get_status_display(),
            "eligible_on": display.date(s.eligible_on),
            "sent_on": display.date(s.sent_on) if s.sent_on else "",
        }
        for s in earlier
    ]
    meetings = [
        {
            "title": m.step.title,
            "held_on": display.date(m.held_on),
            "attendees": m.attendees.splitlines(),
            "agreement": m.agreement,
            "notes": m.notes,
        }
        for m in AttendanceMeeting.objects.filter(step__in=earlier).select_related("step")
    ]
    tried = Intervention.objects.filter(student_id=step.student_id, struck_on__isnull=True)
    interventions = [
        {
            "name": item.kind.name,
            "started_on": display.date(item.started_on),
            "ended_on": display.date(item.ended_on) if item.ended_on else "",
        }
        for item in tried.select_related("kind").order_by("started_on", "pk")
    ]
    return documents.packet_snapshot(
        step=step,
        history=history,
        interventions=interventions,
        meetings=meetings,
        absences=step.evidence["counted"],
        district_name=step.student.district.name,
        today=today,
    )


# --------------------------------------------------------------------------------------
# Reading a step and its documents


def do_view_step(user, *, step_id: int):
    """A step the user may see, with its documents; the reading is audited in the same
    transaction."""
    with transaction.atomic():
        step, access = step_with_access(user, step_id)
        do_log_student_access(
            user=user,
            student_id=step.student_id,
            subject="truancy step",
            access_reason=str(access.student.grant),
            details={"step_id": step.pk},
        )
    return step, access


def do_open_document(user, *, document_id: int) -> tuple[TruancyDocument, bytes, bool]:
    """A document's PDF regenerated from its frozen snapshot, and whether it is identical to
    the one sent (it should always be); the opening is audited."""
    with transaction.atomic():
        document = TruancyDocument.objects.filter(pk=document_id).select_related("step").first()
        step_id = document.step_id if document is not None else 0
        step, access = step_with_access(user, step_id)
        pdf = documents.render(document.snapshot)
        identical = documents.fingerprint(pdf) == document.sha256
        do_log_student_access(
            user=user,
            student_id=step.student_id,
            subject="truancy document",
            access_reason=str(access.student.grant),
            details={"document_id": document.pk, "identical": identical},
        )
    return document, pdf, identical
