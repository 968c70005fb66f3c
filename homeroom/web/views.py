"""Views of the staff web interface: parse the request, call selectors, render.

Student data is read only through the gatekeeper (`visible_students`, `access_student`)
and the attendance selectors, which take the requesting user first.
"""

import datetime as dt

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import patch_vary_headers

from homeroom.access.gatekeeper import access_student
from homeroom.accounts.models import Role
from homeroom.attendance.selectors import (
    absences_by_month,
    district_attendance,
    school_attendance,
    school_year_for,
    student_attendance,
    student_events,
)
from homeroom.core.actions import do_log_student_access
from homeroom.core.models import SchoolYear
from homeroom.core.selectors import district_today
from homeroom.roster.models import Student
from homeroom.roster.selectors import (
    find_students,
    grades_of_visible_students,
    schools_of_visible_students,
    student_characteristics,
    student_enrollments,
    student_guardians,
)
from homeroom.web.charts import month_absence_chart
from homeroom.web.forms import StudentSearchForm
from homeroom.web.tables import header_cells, page_links, student_rows_page

STUDENTS_NEEDING_ATTENTION = 10

login = login_not_required(
    auth_views.LoginView.as_view(template_name="web/login.html", redirect_authenticated_user=True)
)
logout = auth_views.LogoutView.as_view()


def _as_of(user, school_year: SchoolYear | None) -> dt.date:
    """Today in the district, or the last day of the year once it has ended."""
    today = district_today(user.district) if user.district_id else timezone.localdate()
    return today if school_year is None else min(today, school_year.end_date)


def overview(request: HttpRequest) -> HttpResponse:
    """Attendance at a glance over the students the user may see."""
    user = request.user
    school_year = school_year_for(user) if user.district_id else None
    serves_students = user.role in (Role.COUNSELOR, Role.TEACHER)
    serves_schools = user.role in (Role.PRINCIPAL, Role.VIEWER)
    context = {
        "school_year": school_year,
        "students_needing_attention": None,
        "elsewhere": 0,
    }
    if school_year is not None:
        as_of = _as_of(user, school_year)
        schools = school_attendance(user, school_year=school_year, as_of=as_of)
        if serves_schools:
            # Their students' time at other schools (before or after a transfer) is in the
            # totals; the table keeps to the schools the user serves.
            own = set(user.schools.values_list("pk", flat=True))
            shown = [row for row in schools if row.school.pk in own]
            context["elsewhere"] = len(schools) - len(shown)
            schools = shown
        context |= {
            "as_of": as_of,
            "totals": district_attendance(user, school_year=school_year, as_of=as_of),
            "schools": schools,
            "district": user.district,
        }
        if serves_students:
            rows = student_attendance(user, school_year=school_year, as_of=as_of)
            rows.sort(key=lambda row: -(row.absence_rate or 0))
            context["students_needing_attention"] = rows[:STUDENTS_NEEDING_ATTENTION]
    if user.is_district_wide:
        context["heading"] = "District overview"
    elif serves_students:
        context["heading"] = "Your students"
    else:
        context["heading"] = "Your schools" if user.schools.count() > 1 else "Your school"
    return render(request, "web/overview.html", context)


def student_list(request: HttpRequest) -> HttpResponse:
    """The students the user may see, searchable and sortable; HTMX asks for the table only."""
    user = request.user
    school_year = school_year_for(user) if user.district_id else None
    form = StudentSearchForm(
        request.GET,
        schools=schools_of_visible_students(user, school_year=school_year),
        grades=grades_of_visible_students(user),
    )
    filters = form.filters()
    students = find_students(
        user,
        school_year=school_year,
        text=filters["text"],
        school=filters["school"],
        grade=filters["grade"],
    )
    page = student_rows_page(
        user,
        students=students,
        sort=filters["sort"],
        page_number=request.GET.get("page"),
        school_year=school_year,
        as_of=_as_of(user, school_year),
    )
    context = {
        "form": form,
        "page": page,
        "page_links": page_links(page, request.GET),
        "school_year": school_year,
        "headers": header_cells(filters["sort"], request.GET),
        "sort": filters["sort"],
    }
    table_only = request.htmx and not request.htmx.history_restore_request
    template = "web/_student_table.html" if table_only else "web/students.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def student_page(request: HttpRequest, student_id: int) -> HttpResponse:
    """One student's record and attendance this year; every view is written to the audit log."""
    user = request.user
    with transaction.atomic():
        access = access_student(user, student_id)
        school_year = school_year_for(user)
        context = {
            "student": access.student,
            "grant": access.grant,
            "school_year": school_year,
            "characteristics": student_characteristics(access),
            "guardians": student_guardians(access),
            "enrollments": student_enrollments(access),
        }
        if school_year is not None:
            as_of = _as_of(user, school_year)
            months = absences_by_month(access, school_year=school_year, as_of=as_of)
            this_year = student_attendance(
                user,
                school_year=school_year,
                as_of=as_of,
                students=Student.objects.filter(pk=access.student.pk),
            )
            context |= {
                "as_of": as_of,
                "attendance": this_year[0] if this_year else None,
                "months": months,
                "chart": month_absence_chart(months),
                "events": list(student_events(access, school_year=school_year)),
            }
        do_log_student_access(
            user=user,
            student_id=access.student.pk,
            subject="student page",
            access_reason=access.grant,
        )
    return render(request, "web/student.html", context)
