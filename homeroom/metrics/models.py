"""Materialized per-student summaries: what the pages read instead of recomputing."""

from django.db import models


class SummaryState(models.Model):
    """What a district's summaries were computed for: the year, the date and the profile."""

    district = models.OneToOneField(
        "core.District", on_delete=models.CASCADE, related_name="summary_state"
    )
    school_year = models.ForeignKey("core.SchoolYear", on_delete=models.CASCADE, related_name="+")
    as_of = models.DateField()
    start = models.DateField()
    profile = models.CharField(max_length=100, help_text="Rule profile name@version.")
    computed_at = models.DateTimeField(auto_now=True)
    students = models.PositiveIntegerField(default=0)
    seconds = models.FloatField(default=0)

    def __str__(self) -> str:
        return f"{self.district} as of {self.as_of} ({self.profile})"


class StudentSummary(models.Model):
    """One student's attendance in the year so far: at one school, or (school empty) overall.

    Rows are replaced whole by `do_refresh_summaries`; every field is the metrics engine's
    (`homeroom.metrics.definitions`) under the district's rule profile.
    """

    # Derived rows, written only by the refresh from facts that hold these keys: no
    # database constraint checks each of them on every write (Django still cascades), and
    # the indexes below, led by the year, serve every lookup by year and school.
    student = models.ForeignKey(
        "roster.Student", on_delete=models.CASCADE, related_name="summaries", db_constraint=False
    )
    school = models.ForeignKey(
        "core.School",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    school_year = models.ForeignKey(
        "core.SchoolYear",
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    grade = models.SmallIntegerField()
    days_enrolled = models.PositiveIntegerField()
    days_absent = models.FloatField()
    excused = models.FloatField()
    unexcused = models.FloatField()
    oss = models.FloatField(help_text="Out-of-school suspension days.")
    tardies = models.PositiveIntegerField()
    absent_last_30 = models.FloatField()
    longest_absence_run = models.PositiveIntegerField()
    absence_rate = models.FloatField(null=True)
    attendance_rate = models.FloatField(null=True)
    counted = models.BooleanField()
    chronic = models.BooleanField()
    band = models.CharField(max_length=40, blank=True)
    tier = models.CharField(max_length=40, blank=True)
    projected_days_absent = models.FloatField(null=True)
    projected_chronic = models.BooleanField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["school_year", "student", "school"],
                condition=models.Q(school__isnull=False),
                name="student_summary_per_school_unique",
            ),
            models.UniqueConstraint(
                fields=["school_year", "student"],
                condition=models.Q(school__isnull=True),
                name="student_summary_overall_unique",
            ),
        ]
        indexes = [models.Index(fields=["school_year", "school"])]

    def __str__(self) -> str:
        return f"{self.student_id} at {self.school_id or 'all schools'}: {self.days_absent} days"


class TierChange(models.Model):
    """A student's MTSS tier moving between two refreshes of the summaries in one school
    year, under one rule profile: the history the summaries (which hold only today's tier)
    do not keep. Written by `do_refresh_summaries`; a row a change, not a row a day."""

    student = models.ForeignKey("roster.Student", on_delete=models.CASCADE, related_name="+")
    school_year = models.ForeignKey("core.SchoolYear", on_delete=models.CASCADE, related_name="+")
    on = models.DateField(help_text="The as-of day of the refresh that found the change.")
    from_tier = models.CharField(max_length=40)
    to_tier = models.CharField(max_length=40)
    raised = models.BooleanField(help_text="Toward the more intensive tier.")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["student", "on"]), models.Index(fields=["on"])]

    def __str__(self) -> str:
        return f"{self.student_id}: {self.from_tier} to {self.to_tier} on {self.on}"


# The summary table's columns, in the model's order (student, school, school year, then the
# figures): what the refresh writes and the snapshot of the flags reads, declared once here.
SUMMARY_COLUMNS = tuple(f.column for f in StudentSummary._meta.concrete_fields if not f.primary_key)


class SchoolDayAttendance(models.Model):
    """Per school, grade and counted day: students enrolled and days absent, for the
    summaries' year up to their date and for the whole year before.

    What the dashboards' trend lines and patterns (weekdays, months, holidays) add up:
    rows grow with schools x grades x school days, never with students. Replaced whole by
    `do_refresh_summaries` from `definitions.school_grade_days`.
    """

    school_year = models.ForeignKey(
        "core.SchoolYear", on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    school = models.ForeignKey(
        "core.School", on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    grade = models.SmallIntegerField()
    date = models.DateField()
    enrolled = models.PositiveIntegerField(help_text="Students enrolled on the day.")
    days_absent = models.FloatField(help_text="Their absences that day, in days.")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["school_year", "school", "grade", "date"],
                name="school_day_attendance_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.school_id} grade {self.grade} on {self.date}: {self.enrolled} enrolled"


class _Cell(models.Model):
    """Students as of a date per school (empty: over all their schools, each student
    once), grade, counted, chronic, band and tier, with their days: the shape of the
    dashboards' stored cells."""

    school_year = models.ForeignKey(
        "core.SchoolYear", on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    as_of = models.DateField()
    school = models.ForeignKey(
        "core.School",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
    )
    grade = models.SmallIntegerField()
    counted = models.BooleanField()
    chronic = models.BooleanField()
    band = models.CharField(max_length=40, blank=True)
    tier = models.CharField(max_length=40, blank=True)
    students = models.PositiveIntegerField()
    days_enrolled = models.PositiveIntegerField()
    days_absent = models.FloatField()

    class Meta:
        abstract = True


class StandingCell(_Cell):
    """Students as of a date, counted per school (empty: over all their schools, each
    student once), grade, counted, chronic, band and tier, with their days: this year as
    of the end of each week to the summaries' date (and that date), and last year as of
    the same dates a year earlier.

    What the dashboards show for an earlier date and for "a year ago". Replaced whole by
    `do_refresh_summaries` from `definitions.standing_cells`; a few rows per school, grade
    and date, never a row per student.
    """

    class Meta:
        indexes = [models.Index(fields=["school_year", "as_of", "school"])]

    def __str__(self) -> str:
        return f"{self.school_id or 'all schools'} grade {self.grade} on {self.as_of}"


class GroupCell(_Cell):
    """The students of each student group (a characteristic held on the summaries' date)
    per school (empty: over all their schools, each student once), grade, counted,
    chronic, band and tier, with their days, as of the summaries' date.

    What the district's dashboard and the district's group dashboards read for groups:
    added up from `StudentSummary` by `do_refresh_summaries` after the summaries are
    written, with the dashboards' rule for who is in a group (`dashboards.in_group`), so
    a page never counts a group's students per request. A few rows per school, grade and
    group, never a row per student.
    """

    group = models.CharField(max_length=30, help_text="A StudentCharacteristic kind.")

    class Meta:
        indexes = [models.Index(fields=["school_year", "group", "school"])]

    def __str__(self) -> str:
        return f"{self.group} at {self.school_id or 'all schools'} grade {self.grade}"
