"""Early-warning flags with their history, the forecast model, its scores, nightly runs."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Flag(models.Model):
    """One early-warning flag on one student: raised on a date, cleared on a later one.

    A flag that stops holding is cleared, not deleted; if it holds again later a new row
    is raised, so the rows of a student are the history of their flags.
    """

    class Kind(models.TextChoices):
        EARLY_ABSENCES = "early_absences", _("Absences early in the year")
        RECENT_ABSENCES = "recent_absences", _("Absences in the last weeks")
        BAND = "band", _("Worse attendance band")
        CONSECUTIVE = "consecutive", _("Consecutive absences")
        LONG_ABSENCE = "long_absence", _("Possible withdrawal")
        WEEKDAY_PATTERN = "weekday_pattern", _("Mondays and Fridays")
        WORSENING = "worsening", _("Worsening attendance")
        CHRONIC_LAST_YEAR = "chronic_last_year", _("Chronically absent last year")
        NO_FOLLOW_UP = "no_follow_up", _("No contact with the family since flagged")
        FOLLOW_UP_OVERDUE = "follow_up_overdue", _("Follow-up overdue")

    student = models.ForeignKey("roster.Student", on_delete=models.CASCADE, related_name="flags")
    school_year = models.ForeignKey("core.SchoolYear", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=40, choices=Kind.choices)
    variant = models.CharField(
        max_length=40, blank=True, help_text="Which band, for band flags; else empty."
    )
    raised_on = models.DateField()
    cleared_on = models.DateField(null=True, blank=True)
    checked_on = models.DateField(help_text="The last date the flag was evaluated.")
    reason = models.TextField(help_text="Why, in words staff understand.")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["student", "kind", "variant"],
                condition=models.Q(cleared_on__isnull=True),
                name="flag_open_once",
            )
        ]
        indexes = [models.Index(fields=["school_year", "cleared_on"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.student_id} since {self.raised_on}"


class RiskModel(models.Model):
    """A trained forecast: its estimator's parameters per week, training window, evaluation."""

    district = models.ForeignKey("core.District", on_delete=models.CASCADE, related_name="+")
    version = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    estimator = models.CharField(max_length=100)
    rule_profile = models.CharField(max_length=100)
    trained_years = models.JSONField(help_text="Names of the school years it was trained on.")
    evaluated_year = models.CharField(max_length=20, blank=True)
    parameters = models.JSONField(help_text="Per as-of week: the method used and its weights.")
    evaluation = models.JSONField(help_text="The evaluation report's figures.")
    seconds = models.FloatField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["district", "version"], name="risk_model_version")
        ]

    def __str__(self) -> str:
        return f"forecast v{self.version} ({', '.join(self.trained_years)})"


class RiskScore(models.Model):
    """A student's forecast as of a date: probability of ending the year chronically absent."""

    student = models.ForeignKey(
        "roster.Student", on_delete=models.CASCADE, related_name="risk_scores"
    )
    school_year = models.ForeignKey("core.SchoolYear", on_delete=models.CASCADE, related_name="+")
    model = models.ForeignKey(RiskModel, on_delete=models.CASCADE, related_name="scores")
    as_of = models.DateField()
    week = models.PositiveSmallIntegerField(help_text="School week of the as-of date.")
    method = models.CharField(max_length=40, help_text="The model, or the baseline used.")
    probability = models.FloatField()
    previous_probability = models.FloatField(
        null=True, blank=True, help_text="The forecast this one replaced (None: the first)."
    )
    factors = models.JSONField(help_text="Top contributing factors, in words.")
    chronic_last_year = models.BooleanField()
    absent_two_in_september = models.BooleanField()
    projected_chronic = models.BooleanField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["school_year", "student"], name="risk_score_once")
        ]
        # The worklists read each student's latest score (newest as_of, then id) once per
        # summary row: in this order the database takes the first entry of the index
        # instead of sorting the student's scores, 2 x 43,000 times for the early-warning
        # page at 50,000 students (docs/benchmarks.md, "Dashboards").
        indexes = [
            models.Index(fields=["student", "-as_of", "-id"], name="risk_score_latest_first")
        ]

    def __str__(self) -> str:
        return f"{self.student_id}: {self.probability:.0%} as of {self.as_of}"
