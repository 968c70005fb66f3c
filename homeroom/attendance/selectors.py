"""Reads of one student's attendance records: the events as the SIS sent them.

What the events count for (days enrolled and absent, totals, a student's months) is the
metrics app's: the definitions apply the district's rule profile, and the pages read them
through `homeroom.metrics.selectors`.
"""

import datetime as dt

from django.db.models import QuerySet

from homeroom.access.gatekeeper import StudentAccess
from homeroom.attendance.models import AttendanceEvent
from homeroom.core.models import SchoolYear
from homeroom.core.selectors import current_school_year, district_today


def school_year_for(user, on: dt.date | None = None) -> SchoolYear | None:
    """The current school year of the user's district (None without a district)."""
    if user.district_id is None:
        return None
    return current_school_year(user.district_id, on or district_today(user.district))


def student_events(access: StudentAccess, *, school_year: SchoolYear) -> QuerySet[AttendanceEvent]:
    """Every attendance event of the student in the year, counted or not, newest first."""
    return (
        AttendanceEvent.objects.filter(
            student=access.student,
            date__gte=school_year.start_date,
            date__lte=school_year.end_date,
        )
        .select_related("code", "school")
        .order_by("-date")
    )
