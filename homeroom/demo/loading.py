"""Loads a directory of generated-district CSV files (docs/generator.md) into the database.

There is no loader of its own here: the files go through the generic import engine, read
with the shipped `homeroom-generator` mapping profile (`homeroom.ingest.adapters.tabular`) and
written by the sync engine (`homeroom.ingest.sync`), exactly as `homeroom import csv
*.csv --profile homeroom-generator` would. What this module adds is what the import
command leaves to its user: the district itself (from `district.csv`), refusing a district
that is already there, and one transaction around creating the district and importing,
so a rejected import leaves nothing behind.
"""

import csv
import datetime as dt
import io
import json
import zoneinfo
from collections import defaultdict
from pathlib import Path

from django.db import connection, models, transaction
from django.db.models import Q
from django.utils import timezone
from tqdm import tqdm

from homeroom.accounts.models import CaseloadAssignment, Role, User
from homeroom.attendance.models import AttendanceCode, AttendanceEvent
from homeroom.core.models import (
    AuditEntry,
    Calendar,
    CalendarDate,
    District,
    School,
    SchoolYear,
)
from homeroom.demo.files import COLUMNS, HISTORY_FILE
from homeroom.ingest.adapters.tabular import matches, read_tabular
from homeroom.ingest.adapters.tabular.profiles import Profile, load_profile
from homeroom.ingest.formats import source_file
from homeroom.ingest.models import ImportRun
from homeroom.ingest.records import Batch
from homeroom.ingest.sync import ImportRejected, do_import
from homeroom.interventions.actions import do_install_defaults
from homeroom.interventions.models import (
    AttendancePlan,
    Barrier,
    Case,
    CaseBarrier,
    CaseEvent,
    FamilyContact,
    FollowUp,
    Intervention,
    InterventionType,
    Partner,
    Referral,
    TeamMeeting,
)
from homeroom.metrics.models import StudentSummary, SummaryState
from homeroom.outreach.models import (
    ConsentChange,
    LetterBatch,
    Message,
    MessageTemplate,
    OutreachSettings,
    TriggerHit,
)
from homeroom.pipeline.actions import do_refresh_after_import
from homeroom.roster.models import (
    ContactPreference,
    Enrollment,
    Guardian,
    Section,
    SectionEnrollment,
    Student,
    StudentCharacteristic,
    StudentGuardian,
)

SOURCE_FORMAT = "homeroom-generated-csv"
PROFILE = "homeroom-generator"
DISTRICT_FILE = "district.csv"


class GeneratedFileError(Exception):
    """A problem in one of the files: which file, line and column, and what is wrong."""

    def __init__(self, file: str, line: int | None, column: str | None, message: str):
        self.file, self.line, self.column, self.message = file, line, column, message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f", line {self.line}"
        if self.column:
            where += f", column {self.column}"
        return f"{where}: {self.message}"


class DistrictExistsError(GeneratedFileError):
    """The database already holds a district of the name the files give."""


def _rows(path: Path, columns: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """(line, row) of a small CSV file whose header must hold `columns`; the header is line 1."""
    name = path.name
    if not path.is_file():
        raise GeneratedFileError(name, None, None, f"the file is missing from {path.parent}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        line = error.object[: error.start].count(b"\n") + 1
        raise GeneratedFileError(name, line, None, "is not UTF-8 text") from error
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [cell.strip() for cell in next(reader, [])]
    if not header:
        raise GeneratedFileError(name, 1, None, "the file is empty: no header row")
    for column in columns:
        if column not in header:
            raise GeneratedFileError(name, 1, column, "the header lacks this column")
    rows = []
    for values in reader:
        if not any(value.strip() for value in values):
            continue
        if len(values) != len(header):
            raise GeneratedFileError(
                name,
                reader.line_num,
                None,
                f"the row has {len(values)} values, the header {len(header)}",
            )
        rows.append((reader.line_num, dict(zip(header, (v.strip() for v in values), strict=True))))
    return rows


def _district_fields(directory: Path) -> tuple[dict[str, str], int]:
    """name, state and timezone from district.csv, checked; and the line they are on."""
    rows = _rows(directory / DISTRICT_FILE, COLUMNS["district"])
    if len(rows) != 1:
        raise GeneratedFileError(
            DISTRICT_FILE, None, None, f"expected exactly one district row, found {len(rows)}"
        )
    line, row = rows[0]
    name, state, tz = row["name"], row["state"].upper(), row["timezone"]
    limit = District._meta.get_field("name").max_length
    if not name:
        raise GeneratedFileError(DISTRICT_FILE, line, "name", "is empty; a value is required")
    if len(name) > limit:
        raise GeneratedFileError(
            DISTRICT_FILE, line, "name", f"'{name}' is longer than {limit} characters"
        )
    if len(state) > 2:
        raise GeneratedFileError(
            DISTRICT_FILE, line, "state", f"'{state}' is not a two-letter postal code"
        )
    if tz not in zoneinfo.available_timezones():
        raise GeneratedFileError(
            DISTRICT_FILE,
            line,
            "timezone",
            f"'{tz}' is not a time zone name (e.g. America/Chicago)",
        )
    return {"name": name, "state": state, "timezone": tz}, line


def _import_files(directory: Path, profile: Profile) -> list[Path]:
    """Every CSV file of the directory the profile reads; a file it needs must be there."""
    paths = sorted(
        path
        for path in directory.glob("*.csv")
        if path.is_file()
        and not path.name.startswith(".")
        and not any(matches(path, pattern) for pattern in profile.ignore_files)
    )
    for source in profile.sources:
        if not any(matches(path, source.file) for path in paths):
            raise GeneratedFileError(
                source.file, None, None, f"the file is missing from {directory}"
            )
    return paths


def _rejection(batch: Batch, run: ImportRun, directory: Path) -> GeneratedFileError:
    """The first error of a rejected run as a GeneratedFileError, saying how many follow."""
    errors = [
        {
            "file": p.where.file if p.where else "",
            "line": p.where.line if p.where else None,
            "column": p.where.column if p.where else "",
            "message": p.message,
            "value": p.value,
            "hint": p.hint,
        }
        for p in batch.errors
    ] or [p for p in run.problems if p["severity"] == "error"]
    total = sum(n for code, n in run.problem_counts.items() if code.startswith("error:"))
    total = max(total, len(errors), 1)
    first = errors[0] if errors else {"message": "the import was rejected"}
    message = first["message"]
    if first.get("value"):
        message += f" (value: {first['value']!r})"
    message += "."
    if first.get("hint"):
        message += f" {first['hint']}"
    if total > 1:
        more = total - 1
        message += f" ({more:,} more error{'s' if more != 1 else ''}; nothing was loaded)"
    return GeneratedFileError(
        first.get("file") or directory.name, first.get("line"), first.get("column") or None, message
    )


def load_generated_district(
    directory: Path, *, user: User | None = None, progress: bool = False
) -> ImportRun:
    """Load the generated district in `directory` atomically; raise GeneratedFileError if bad.

    The district comes from district.csv; everything else is one import run of the generic
    engine with the `homeroom-generator` profile, inside the same transaction as creating
    the district. `progress` shows a bar per phase (reading the files, importing them).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise GeneratedFileError(str(directory), None, None, "is not a directory")
    fields, line = _district_fields(directory)
    if District.objects.filter(name=fields["name"]).exists():
        raise DistrictExistsError(
            DISTRICT_FILE,
            line,
            "name",
            f"a district named '{fields['name']}' is already in the database; delete it "
            "first (or load into another database)",
        )
    profile = load_profile(PROFILE)
    paths = _import_files(directory, profile)
    with tqdm(total=2, desc="reading", unit=" phase", disable=not progress) as bar:
        batch: Batch = read_tabular(paths, profile)
        bar.update(1)
        bar.set_description("importing")
        with transaction.atomic():
            district = District.objects.create(**fields)
            try:
                run = do_import(
                    batch,
                    district=district,
                    source_format=SOURCE_FORMAT,
                    files=[source_file(path) for path in paths],
                    user=user,
                )
            except ImportRejected as rejected:
                raise _rejection(batch, rejected.run, directory) from None
            do_install_defaults(district)
        bar.update(1)
    do_refresh_after_import(run)
    return run


def read_history(directory: Path) -> dict | None:
    """The generated interventions history in `directory`, or None if it has none."""
    path = Path(directory) / HISTORY_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise GeneratedFileError(HISTORY_FILE, None, None, f"is not JSON: {error}") from error


def load_intervention_history(
    district: District, directory: Path, *, accounts: dict[str, User] | None = None
) -> dict[str, int]:
    """Write the generated interventions history (interventions.json) into the district.

    The rows are bulk-created as the actions would have left them, timeline rows included,
    in one transaction; no access checks run (there is no user acting). Staff ids named by
    `accounts` act through those users (the demo's accounts); every other staff member
    gets an account of their role, scoped to their school, that cannot sign in. Does
    nothing (and returns {}) if the directory has no history or the district has cases.
    """
    history = read_history(directory)
    if history is None or Case.objects.filter(student__district=district).exists():
        return {}
    accounts = dict(accounts or {})
    do_install_defaults(district)
    with transaction.atomic():
        users = _history_staff(district, directory, history, accounts)
        counts = _write_history(district, history, users)
        AuditEntry.objects.create(
            district=district,
            action=AuditEntry.Action.IMPORT,
            subject=f"generated interventions history ({HISTORY_FILE})",
            details={"district": district.name, "counts": counts},
        )
    return counts


def _history_staff(
    district: District, directory: Path, history: dict, accounts: dict[str, User]
) -> dict[str, User]:
    """A user per staff id the history names: the given accounts, else one made here."""
    people = {row["staff_id"]: row for row in history["staff"]}
    teachers = {row["owner"] for row in history["tier1"]} - people.keys()
    if teachers:
        for _line, row in _rows(directory / "staff.csv", COLUMNS["staff"]):
            if row["staff_id"] in teachers:
                people[row["staff_id"]] = {**row, "role": "teacher"}
    schools = {school.local_id: school for school in district.schools.all()}
    users = dict(accounts)
    wanted = {staff_id: row for staff_id, row in people.items() if staff_id not in users}
    usernames = {f"staff-{staff_id.lower()}": staff_id for staff_id in wanted}
    for user in User.objects.filter(username__in=usernames, district=district):
        users[usernames.pop(user.username)] = user
    made = {}
    for username, staff_id in sorted(usernames.items()):
        row = wanted[staff_id]
        user = User(
            username=username,
            role=row["role"],
            district=district,
            first_name=row["first_name"],
            last_name=row["last_name"],
            email=row.get("email", ""),
        )
        user.set_unusable_password()  # a record of who did what, not a way in
        made[staff_id] = user
    User.objects.bulk_create(made.values())
    for staff_id, user in made.items():
        users[staff_id] = User.objects.get(username=user.username) if user.pk is None else user
    # Counselors and principals serve their school: the case pages suggest them there.
    scope = User.schools.through
    scope.objects.bulk_create(
        scope(user_id=users[staff_id].pk, school_id=schools[people[staff_id]["school_id"]].pk)
        for staff_id in made
        if people[staff_id]["role"] in (Role.COUNSELOR, Role.PRINCIPAL)
        and people[staff_id]["school_id"] in schools
    )
    return users


def _insert(model: type[models.Model], rows: list[dict]) -> None:
    """Insert rows given as {attname: value} (other fields take their defaults) in one
    executemany. bulk_create builds a model instance per row and prepares each value
    through the compiler: for the tens of thousands of timeline rows of a demo district
    that was most of the load's time."""
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    defaults = {f.attname: f.get_default() for f in fields}
    values = [
        [f.get_db_prep_save(row.get(f.attname, defaults[f.attname]), connection) for f in fields]
        for row in rows
    ]
    with connection.cursor() as cursor:
        for start in range(0, len(values), 5000):
            cursor.executemany(
                f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({marks})",
                values[start : start + 5000],
            )


def _day(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def _write_history(district: District, history: dict, users: dict[str, User]) -> dict[str, int]:
    """Bulk-create the history's rows and their timeline; the rows made, per kind."""
    students = dict(Student.objects.filter(district=district).values_list("local_id", "pk"))
    schools = {school.local_id: school for school in district.schools.all()}
    guardians = dict(Guardian.objects.filter(district=district).values_list("local_id", "pk"))
    barriers = {b.key: b for b in Barrier.objects.filter(district=district)}
    kinds = {k.key: k for k in InterventionType.objects.filter(district=district)}
    partners = {}
    for row in history["partners"]:
        partner = Partner.objects.create(
            district=district,
            name=row["name"],
            services=row["services"],
            languages=row["languages"],
            phone=row["phone"],
            email=row["email"],
            capacity=row["capacity"],
        )
        partner.barriers.set([barriers[key] for key in row["barriers"] if key in barriers])
        partners[row["key"]] = partner

    rows: dict[str, list] = defaultdict(list)
    events: list[dict] = []
    now = timezone.now()

    def event(student_id, case, kind, on, by, summary):
        events.append(
            {
                "student_id": student_id,
                "case_id": case.pk if case else None,
                "kind": kind,
                "on": on,
                "at": now,
                "by_id": by.pk,
                "summary": summary[:300],
            }
        )

    def contact(student_id, case, row):
        on, by = _day(row["contacted_on"]), users[row["by"]]
        rows["contacts"].append(
            {
                "student_id": student_id,
                "case_id": case.pk if case else None,
                "contacted_on": on,
                "channel": row["channel"],
                "guardian_id": guardians[row["guardian_id"]],
                "outcome": row["outcome"],
                "language": row["language"],
                "recorded_by_id": by.pk,
            }
        )
        channel = FamilyContact.Channel(row["channel"]).label
        outcome = FamilyContact.Outcome(row["outcome"]).label
        event(
            student_id,
            case,
            CaseEvent.Kind.CONTACT,
            on,
            by,
            f"{channel} with a guardian: {outcome}",
        )

    cases = [
        Case(
            student_id=students[row["student_id"]],
            school=schools[row["school_id"]],
            tier=row["tier"],
            source=row["source"],
            case_manager=users[row["case_manager"]] if row["case_manager"] else None,
            opened_on=_day(row["opened_on"]),
            opened_by=users[row["opened_by"]],
            status=Case.Status.CLOSED if row["closed_on"] else Case.Status.OPEN,
            closed_on=_day(row["closed_on"]),
            close_reason=row["close_reason"],
            close_note=row["close_note"],
        )
        for row in history["cases"]
    ]
    Case.objects.bulk_create(cases)

    for case, row in zip(cases, history["cases"], strict=True):
        student, manager = case.student_id, case.case_manager or case.opened_by
        event(
            student,
            case,
            CaseEvent.Kind.CASE_OPENED,
            case.opened_on,
            case.opened_by,
            f"Case opened ({case.get_source_display().lower()}, tier {case.tier})",
        )
        if case.case_manager:
            rows["caseload"].append(
                {
                    "user_id": case.case_manager.pk,
                    "student_id": student,
                    "start_date": case.opened_on,
                    "end_date": case.closed_on,
                }
            )
        for item in row["barriers"]:
            barrier = barriers[item["barrier"]]
            made = {
                "case_id": case.pk,
                "barrier_id": barrier.pk,
                "recorded_on": _day(item["recorded_on"]),
                "recorded_by_id": manager.pk,
            }
            rows["barriers"].append(made)
            event(student, case, "barrier", made["recorded_on"], manager, f"Barrier: {barrier}")
        for item in row["plans"]:
            plan = AttendancePlan(
                case=case,
                goal_rate=item["goal_rate"],
                goal_until=_day(item["goal_until"]),
                steps=item["steps"],
                written_on=_day(item["written_on"]),
                written_by=manager,
                review_on=_day(item["review_on"]),
                reviewed_on=_day(item["reviewed_on"]),
                review_note=item["review_note"],
            )
            rows["plans"].append(plan)
            goal = f"attend {float(plan.goal_rate) * 100:g}% of days through {plan.goal_until}"
            event(
                student,
                case,
                CaseEvent.Kind.PLAN_WRITTEN,
                plan.written_on,
                manager,
                f"Attendance plan: {goal}; review {plan.review_on}",
            )
            if plan.reviewed_on:
                event(
                    student,
                    case,
                    CaseEvent.Kind.PLAN_REVIEWED,
                    plan.reviewed_on,
                    manager,
                    f"Attendance plan reviewed: {plan.review_note}",
                )
        for item in row["interventions"]:
            kind = kinds[item["kind"]]
            made = {
                "student_id": student,
                "case_id": case.pk,
                "kind_id": kind.pk,
                "started_on": _day(item["started_on"]),
                "ended_on": _day(item["ended_on"]),
                "owner_id": manager.pk,
                "note": item["note"],
            }
            rows["interventions"].append(made)
            event(
                student, case, "intervention", made["started_on"], manager, f"Intervention: {kind}"
            )
            if made["ended_on"]:
                event(
                    student,
                    case,
                    CaseEvent.Kind.INTERVENTION_ENDED,
                    made["ended_on"],
                    manager,
                    f"Intervention ended: {kind}",
                )
        for item in row["follow_ups"]:
            made = {
                "case_id": case.pk,
                "description": item["description"],
                "due_on": _day(item["due_on"]),
                "owner_id": manager.pk,
                "scheduled_on": _day(item["scheduled_on"]),
                "done_on": _day(item["done_on"]),
                "outcome": item["outcome"],
            }
            rows["follow_ups"].append(made)
            event(
                student,
                case,
                CaseEvent.Kind.FOLLOW_UP_SCHEDULED,
                made["scheduled_on"],
                manager,
                f"Follow-up due {made['due_on']}: {made['description']}",
            )
            if made["done_on"]:
                event(
                    student,
                    case,
                    CaseEvent.Kind.FOLLOW_UP_DONE,
                    made["done_on"],
                    manager,
                    f"Follow-up done: {made['description']}: {made['outcome']}",
                )
        for item in row["referrals"]:
            partner = partners[item["partner"]]
            made = Referral(
                case=case,
                partner=partner,
                made_on=_day(item["made_on"]),
                made_by=manager,
                status=item["status"],
                status_on=_day(item["status_on"]),
            )
            rows["referrals"].append(made)
            event(student, case, "referral", made.made_on, manager, f"Referred to {partner}")
            if made.status != Referral.Status.MADE:
                event(
                    student,
                    case,
                    CaseEvent.Kind.REFERRAL_UPDATED,
                    made.status_on,
                    manager,
                    f"Referral to {partner}: {made.get_status_display()}",
                )
        for item in row["contacts"]:
            contact(student, case, item)
        if case.closed_on:
            event(
                student,
                case,
                CaseEvent.Kind.CASE_CLOSED,
                case.closed_on,
                manager,
                f"Case closed: {case.get_close_reason_display()}"
                + (f": {case.close_note}" if case.close_note else ""),
            )

    for row in history["tier1"]:
        student, teacher = students[row["student_id"]], users[row["owner"]]
        kind = kinds[row["kind"]]
        made = {
            "student_id": student,
            "kind_id": kind.pk,
            "started_on": _day(row["started_on"]),
            "ended_on": _day(row["ended_on"]),
            "owner_id": teacher.pk,
        }
        rows["interventions"].append(made)
        event(student, None, "intervention", made["started_on"], teacher, f"Intervention: {kind}")
        for item in row["contacts"]:
            contact(student, None, item)

    for model, key in ((AttendancePlan, "plans"), (Referral, "referrals")):
        model.objects.bulk_create(rows[key], batch_size=2000)
    for model, key in (
        (CaseBarrier, "barriers"),
        (Intervention, "interventions"),
        (FollowUp, "follow_ups"),
        (FamilyContact, "contacts"),
        (CaseloadAssignment, "caseload"),
    ):
        _insert(model, rows[key])
    _insert(CaseEvent, events)
    counts = {"partners": len(partners), "cases": len(cases)}
    counts |= {key: len(made) for key, made in rows.items()}
    return counts | {"timeline": len(events)}


def inserted(run: ImportRun) -> dict[str, int]:
    """Rows inserted per entity by a run (entities it read nothing of left out)."""
    return {
        entity: counts["inserted"]
        for entity, counts in run.counts.items()
        if counts.get("read") or counts.get("inserted")
    }


def teacher_sections(directory: Path) -> dict[str, list[tuple[str, str, str]]]:
    """Per staff id in sections.csv: (school id, school year, section id) of their sections."""
    taught: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for _line, row in _rows(Path(directory) / "sections.csv", COLUMNS["sections"]):
        if teacher := row["teacher_id"]:
            taught[teacher].append((row["school_id"], row["school_year"], row["section_id"]))
    return dict(taught)


def delete_district(district: District, *, user: User | None = None) -> dict[str, int]:
    """Delete a district and everything under it, children first, in one transaction.

    Staff accounts of the district go too. Returns the rows deleted per model.
    """
    deleted: dict[str, int] = defaultdict(int)

    def remove(queryset: models.QuerySet) -> None:
        _total, per_model = queryset.delete()
        for label, count in per_model.items():
            deleted[label] += count

    name = district.name
    if user is not None and user.district_id == district.pk:
        user = None  # the account goes with the district; the trail keeps the deletion
    with transaction.atomic():
        # Outreach first: its messages name guardians, templates, cases and staff.
        remove(TriggerHit.objects.filter(student__district=district))
        remove(ConsentChange.objects.filter(guardian__district=district))
        remove(Message.objects.filter(district=district))
        remove(LetterBatch.objects.filter(district=district))
        remove(MessageTemplate.objects.filter(district=district))
        remove(OutreachSettings.objects.filter(district=district))
        # Case records next: they name staff, whose accounts go before the schools.
        remove(CaseEvent.objects.filter(student__district=district))
        remove(CaseloadAssignment.objects.filter(user__district=district))
        remove(FamilyContact.objects.filter(student__district=district))
        remove(Intervention.objects.filter(student__district=district))
        remove(Case.objects.filter(student__district=district))
        remove(TeamMeeting.objects.filter(school__district=district))
        remove(Partner.objects.filter(district=district))
        remove(InterventionType.objects.filter(district=district))
        remove(Barrier.objects.filter(district=district))
        remove(StudentSummary.objects.filter(student__district=district))
        remove(SummaryState.objects.filter(district=district))
        remove(
            AttendanceEvent.objects.filter(
                Q(school__district=district) | Q(student__district=district)
            )
        )
        remove(SectionEnrollment.objects.filter(section__school__district=district))
        remove(Section.objects.filter(school__district=district))
        remove(
            Enrollment.objects.filter(Q(school__district=district) | Q(student__district=district))
        )
        remove(StudentCharacteristic.objects.filter(student__district=district))
        remove(StudentGuardian.objects.filter(student__district=district))
        remove(ContactPreference.objects.filter(guardian__district=district))
        remove(Student.objects.filter(district=district))
        remove(Guardian.objects.filter(district=district))
        remove(AttendanceCode.objects.filter(district=district))
        remove(User.objects.filter(district=district))
        remove(CalendarDate.objects.filter(calendar__school__district=district))
        remove(Calendar.objects.filter(school__district=district))
        remove(ImportRun.objects.filter(district=district))
        remove(School.objects.filter(district=district))
        remove(SchoolYear.objects.filter(district=district))
        remove(District.objects.filter(pk=district.pk))
        AuditEntry.objects.create(
            user=user,
            action=AuditEntry.Action.DELETE,
            subject=f"district {name}",
            details={"deleted": dict(deleted)},
        )
    return dict(deleted)
