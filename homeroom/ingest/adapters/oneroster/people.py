"""OneRoster people: students and their parents or guardians, and the links between them.

Users come from users.csv, their roles from its `role` column or from roles.csv; a user
with the student role becomes a student, one with a parent, guardian or relative role a
guardian (both, when they hold both). demographics.csv adds birth date, sex and
race/ethnicity to students; family links come from both sides' agentSourcedIds. Teachers
stay users: sections name them by login (username, else email).
"""

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from homeroom.ingest.adapters.oneroster.checks import RowChecks, Skip, listed
from homeroom.ingest.adapters.oneroster.files import Row, Table, shown
from homeroom.ingest.adapters.vocabulary import CEDS_GRADE_CODES, LIMITS
from homeroom.ingest.records import GuardianRecord, StudentGuardianRecord, StudentRecord, Where

GUARDIAN_RELATIONSHIPS = {"guardian": "guardian", "parent": "guardian", "relative": "other"}
SEXES = {"male": "M", "female": "F", "other": "X", "unspecified": "U", "": "U"}
RACES = {
    "americanIndianOrAlaskaNative": "american_indian",
    "asian": "asian",
    "blackOrAfricanAmerican": "black",
    "nativeHawaiianOrOtherPacificIslander": "pacific_islander",
    "white": "white",
}


@dataclass(slots=True)
class User:
    """A user: the records made of them and how sections name them."""

    row: Row
    roles: list[str] = field(default_factory=list)
    student: StudentRecord | None = None
    guardian_id: str = ""
    relationship: str = ""
    login: str = ""


def read_people(checks: RowChecks, tables: dict[str, Table | None]) -> dict[str, User]:
    """The students and guardians of users.csv, with their demographics and family links,
    added to the batch; every user read (teachers too) by sourcedId."""
    users = _read_users(checks, tables)
    _read_demographics(checks, tables, users)
    _read_guardian_links(checks, users)
    return users


def _read_users(checks: RowChecks, tables: dict[str, Table | None]) -> dict[str, User]:
    users: dict[str, User] = {}
    table = tables.get("users.csv")
    if table is None:
        return users
    roles_table = tables.get("roles.csv")
    for sid, row in checks.live(table, "user"):
        users[sid] = User(row, [role.lower() for role in listed(row["role"])])
    if roles_table is not None:
        for user_sid, row in checks.live(roles_table, "user role", key="userSourcedId"):
            try:
                user = checks.ref("user", users, row, "userSourcedId", user_sid)
                user.roles.append(row["role"].lower())
            except Skip:
                pass
        for sid in roles_table.damaged & set(users):  # its roles are not all known
            del users[sid]
            checks.bad["user"].add(sid)
    students: set[str] = set()
    guardians: set[str] = set()
    for sid, user in list(users.items()):
        try:
            _read_user(checks, user, students, guardians)
        except Skip:
            del users[sid]
            checks.bad["user"].add(sid)
    return users


def _read_user(checks: RowChecks, user: User, students: set[str], guardians: set[str]) -> None:
    row = user.row
    user.login = row["username"] or row["email"]
    relationship = next(
        (GUARDIAN_RELATIONSHIPS[r] for r in user.roles if r in GUARDIAN_RELATIONSHIPS), ""
    )
    if "student" not in user.roles and not relationship:
        return
    column = "identifier" if row["identifier"] else "sourcedId"
    local_id = checks.text(row, column, LIMITS["local_id"])
    first = checks.text(row, "givenName", LIMITS["name"], required=True)
    last = checks.text(row, "familyName", LIMITS["name"], required=True)
    if "student" in user.roles:
        if local_id in students:
            checks.fail(
                "duplicate_id",
                "another student has this id",
                row.where(column),
                local_id,
                "A student's identifier (else their sourcedId) must be unique.",
            )
        grade = _grade(checks, row)
        middle = checks.text(row, "middleName", LIMITS["name"])
        user.student = StudentRecord(
            local_id, first, last, grade, row.where(column), middle_name=middle
        )
    if relationship:
        if local_id in guardians:
            checks.fail(
                "duplicate_id",
                "another parent or guardian has this id",
                row.where(column),
                local_id,
                "A guardian's identifier (else their sourcedId) must be unique.",
            )
        phone = checks.text(row, "phone", LIMITS["phone"]) or checks.text(
            row, "sms", LIMITS["phone"]
        )
        email = checks.text(row, "email", LIMITS["email"])
        guardians.add(local_id)
        user.guardian_id, user.relationship = local_id, relationship
        checks.batch.guardians.append(
            GuardianRecord(local_id, first, last, row.where(column), phone=phone, email=email)
        )
    if user.student is not None:
        students.add(local_id)
        checks.batch.students.append(user.student)


def _grade(checks: RowChecks, row: Row) -> int:
    grades = listed(row["grades"])
    if not grades:
        checks.fail(
            "missing_value",
            "the student has no grade",
            row.where("grades"),
            hint="Give the student's grade (PK, KG, 01 to 12) in grades.",
        )
    if len(grades) > 1:
        checks.batch.finding(
            "several_grades",
            "the student has several grades; the first is used",
            row.where("grades"),
            value=shown(row["grades"]),
        )
    grade = CEDS_GRADE_CODES.get(grades[0].upper())
    if grade is None:
        checks.fail(
            "bad_grade",
            "not a grade Homeroom holds",
            row.where("grades"),
            grades[0],
            "Homeroom holds grades PK (or TK), KG and 01 to 12.",
        )
    return grade


def _read_demographics(
    checks: RowChecks, tables: dict[str, Table | None], users: dict[str, User]
) -> None:
    table = tables.get("demographics.csv")
    if table is None:
        return
    for sid, row in checks.live(table, "demographic"):
        try:
            user = checks.ref("user", users, row, "sourcedId", sid)
            birth_date = checks.date(row, "birthDate")
            sex = row["sex"].lower()
            if sex not in SEXES:
                checks.fail(
                    "bad_value",
                    "sex is not male, female, other or unspecified",
                    row.where("sex"),
                    row["sex"],
                )
            races = [race for column, race in RACES.items() if checks.flag(row, column)]
            two_or_more = checks.flag(row, "demographicRaceTwoOrMoreRaces")
            hispanic = checks.flag(row, "hispanicOrLatinoEthnicity")
        except Skip:
            continue
        if user.student is None:
            continue
        if hispanic:
            race = "hispanic"
        elif len(races) > 1 or two_or_more:
            race = "two_or_more"
        else:
            race = races[0] if races else "unknown"
        user.student.birth_date = birth_date
        user.student.gender = SEXES[sex]
        user.student.race_ethnicity = race


def _read_guardian_links(checks: RowChecks, users: dict[str, User]) -> None:
    """Family links from both sides' agentSourcedIds; a student's order is the contact order."""
    links: dict[tuple[str, str], StudentGuardianRecord] = {}
    priority: dict[str, int] = defaultdict(int)

    def link(student: StudentRecord, guardian: User, where: Where) -> None:
        key = (student.local_id, guardian.guardian_id)
        if key not in links:
            priority[student.local_id] += 1
            links[key] = StudentGuardianRecord(
                *key, guardian.relationship, where, contact_priority=priority[key[0]]
            )

    for user in users.values():
        if user.student is not None:
            for agent in _agents(checks, users, user, "a parent or guardian", _is_guardian):
                link(user.student, agent, user.row.where("agentSourcedIds"))
    for user in users.values():
        if user.guardian_id:
            for agent in _agents(checks, users, user, "a student", _is_student):
                link(agent.student, user, user.row.where("agentSourcedIds"))
    checks.batch.student_guardians.extend(links.values())


def _agents(
    checks: RowChecks,
    users: dict[str, User],
    user: User,
    wanted: str,
    fits: Callable[[User], bool],
) -> Iterator[User]:
    """The user's agents that `fit` (are students, or parents or guardians)."""
    for agent_sid in listed(user.row["agentSourcedIds"]):
        try:
            agent = checks.ref("user", users, user.row, "agentSourcedIds", agent_sid)
        except Skip:
            continue
        if fits(agent):
            yield agent
        else:
            checks.batch.finding(
                "agent_not_linked",
                f"the agent is not {wanted}, so no family link is made",
                user.row.where("agentSourcedIds"),
                value=shown(agent_sid),
            )


def _is_student(user: User) -> bool:
    return user.student is not None


def _is_guardian(user: User) -> bool:
    return bool(user.guardian_id)
