"""Views of the staff web interface: parse the request, call selectors, render.

Student data is read only through the gatekeeper (`visible_students`, `access_student`)
and the selectors, which take the requesting user first (or the gatekeeper's access to
one student). Attendance figures are the materialized summaries (`metrics.selectors`),
as of the date they were computed for.
"""

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.utils.cache import patch_vary_headers
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

from homeroom.access.gatekeeper import StudentAccess, access_student
from homeroom.accounts.models import Role
from homeroom.attendance.selectors import school_year_for, student_events
from homeroom.core.actions import do_log_student_access
from homeroom.core.downloads import download_format
from homeroom.ingest.runs import run_summary
from homeroom.ingest.selectors import (
    ImportRunNotFound,
    access_import_run,
    import_runs,
    may_import,
    may_view_imports,
)
from homeroom.interventions.views import student_section
from homeroom.interventions.worklists import (
    CHRONIC,
    chronic_list,
    early_warning_worklist,
    worklist_menus,
)
from homeroom.interventions.worklists import student_list as student_list_of
from homeroom.metrics.charts import month_absence_chart
from homeroom.metrics.display import day_places
from homeroom.metrics.selectors import (
    MonthAttendance,
    StudentYear,
    absences_by_month,
    attendance_at_schools,
    attendance_of_student,
    district_attendance,
    most_absent_students,
    school_attendance,
    summary_rules,
    summary_state,
)
from homeroom.pipeline.uploads import (
    Upload,
    UploadLimit,
    UploadNotFound,
    UploadRefused,
    access_upload,
    allow_large_deletes,
    do_run_upload,
    receive_upload,
)
from homeroom.roster.selectors import (
    menus_of_visible_students,
    student_characteristics,
    student_enrollments,
    student_guardians,
)
from homeroom.warnings.methods import method_name
from homeroom.warnings.selectors import student_flags, student_risk
from homeroom.web.forms import ImportUploadForm, SignInForm, StudentSearchForm, WorklistForm
from homeroom.web.import_tables import run_details, run_rows
from homeroom.web.tables import (
    STUDENTS_PER_PAGE,
    download_links,
    header_cells,
    list_links,
    page_links,
    sort_figure,
    student_rows_page,
    students_download,
    worklist_download,
    worklist_rows,
)

STUDENTS_NEEDING_ATTENTION = 10
RUNS_PER_PAGE = 25
CLEARED_FLAGS_SHOWN = 5

login = login_not_required(
    auth_views.LoginView.as_view(
        template_name="web/login.html",
        redirect_authenticated_user=True,
        authentication_form=SignInForm,
    )
)
logout = auth_views.LogoutView.as_view()


def overview(request: HttpRequest) -> HttpResponse:
    """Attendance at a glance over the students the user may see, from their summaries."""
    user = request.user
    state = summary_state(user)
    serves_students = user.role in (Role.COUNSELOR, Role.TEACHER)
    serves_schools = user.role in (Role.PRINCIPAL, Role.VIEWER)
    context = {
        "school_year": state.school_year if state else school_year_for(user),
        "state": state,
        "students_needing_attention": None,
        "elsewhere": 0,
    }
    if state is not None:
        schools = school_attendance(user)
        if serves_schools:
            # A principal's figures are their schools': the students' days at those schools,
            # the table's rows added up. Their students' whole-year totals (with days at a
            # school before or after a transfer) would put a second, different chronic
            # figure for the same school beside the table's.
            own = set(user.schools.values_list("pk", flat=True))
            shown = [row for row in schools if row.school.pk in own]
            context["elsewhere"] = len(schools) - len(shown)
            schools = shown
            totals = attendance_at_schools(user, schools=[row.school for row in shown])
            if len(shown) == 1:
                totals_label = shown[0].school.name
            elif shown:
                totals_label = f"Your {len(shown)} schools (a student at two counts at each)"
            else:
                totals_label = "Your schools"
        else:
            totals = district_attendance(user)
            who = "All students" if user.is_district_wide else "Your students"
            totals_label = f"{who}, all schools (each student once)"
        context |= {
            "totals": totals,
            "totals_label": totals_label,
            "schools": schools,
            "rules": summary_rules(state),
        }
        if serves_students:
            context["students_needing_attention"] = most_absent_students(
                user, count=STUDENTS_NEEDING_ATTENTION
            )
        context["day_places"] = day_places(
            [totals.days_absent]
            + [row.days_absent for row in schools]
            + [row.days_absent for row in context["students_needing_attention"] or []]
        )
    if user.is_district_wide:
        context["heading"] = "District overview"
    elif serves_students:
        context["heading"] = "Your students"
    else:
        context["heading"] = "Your schools" if user.schools.count() > 1 else "Your school"
    return render(request, "web/overview.html", context)


def student_list(request: HttpRequest) -> HttpResponse:
    """The students the user may see, searchable, filterable and sortable; HTMX asks for the
    table only; `download=csv` or `xlsx` gives the whole filtered table as a file."""
    user = request.user
    school_year = school_year_for(user)
    state = summary_state(user)
    rules = summary_rules(state) if state else None
    schools, grades = menus_of_visible_students(user, school_year=school_year)
    form = StudentSearchForm(request.GET, schools=schools, grades=grades, rules=rules)
    filters = form.filters()
    sort = filters.pop("sort")
    students = student_list_of(user, school_year=school_year, figure=sort_figure(sort), **filters)
    file_format = download_format(request.GET.get("download"))
    if file_format:
        return students_download(
            user,
            students=students,
            sort=sort,
            rules=rules,
            file_format=file_format,
            filters=form.applied(),
        )
    page = student_rows_page(
        user, students=students, sort=sort, page_number=request.GET.get("page"), rules=rules
    )
    context = {
        "form": form,
        "filters": filters,
        "page": page,
        "page_links": page_links(page, request.GET),
        "downloads": download_links(request.GET),
        "school_year": school_year,
        "state": state,
        "headers": header_cells(sort, request.GET),
        "sort": sort,
        "day_places": day_places(
            row.attendance.days_absent for row in page.object_list if row.attendance
        ),
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
        state = summary_state(user)
        school_year = state.school_year if state else school_year_for(user)
        context = {
            "student": access.student,
            "grant": access.grant,
            "school_year": school_year,
            "state": state,
            "characteristics": student_characteristics(access),
            "guardians": student_guardians(access),
            "enrollments": student_enrollments(access),
        }
        context |= _early_warning(access)
        context |= student_section(request, access)
        if school_year is not None:
            context["events"] = list(student_events(access, school_year=school_year))
        if state is not None:
            summaries = attendance_of_student(access)
            context |= {"attendance": summaries.overall, "attendance_by_school": summaries.schools}
            rules = summary_rules(state)
            months = []
            if rules is not None:
                months = absences_by_month(
                    access, school_year=school_year, as_of=state.as_of, profile=rules
                )
            context["day_places"] = _student_day_places(summaries, months)
            if months:
                context |= {
                    "months": months,
                    "chart": month_absence_chart(months, places=context["day_places"]),
                }
        do_log_student_access(
            user=user,
            student_id=access.student.pk,
            subject="student page",
            access_reason=access.grant,
        )
    return render(request, "web/student.html", context)


def _student_day_places(summaries: StudentYear, months: list[MonthAttendance]) -> int:
    """One student's page writes all its day counts to the same decimals."""
    rows = [summaries.overall, *summaries.schools] if summaries.overall else summaries.schools
    return day_places(
        [value for row in rows for value in (row.days_absent, row.excused, row.unexcused)]
        + [row.suspended for row in rows]
        + [month.days_absent for month in months]
    )


def _early_warning(access: StudentAccess) -> dict:
    """The student page's early-warning section: open flags, recent history, forecast."""
    flags = student_flags(access)
    cleared = [flag for flag in flags if flag.cleared_on is not None]
    risk = student_risk(access)
    return {
        "open_flags": [flag for flag in flags if flag.cleared_on is None],
        "cleared_flags": cleared[:CLEARED_FLAGS_SHOWN],
        "earlier_cleared": len(cleared) - CLEARED_FLAGS_SHOWN,
        "risk": risk,
        "risk_method": method_name(risk.method) if risk else "",
    }


def warning_list(request: HttpRequest) -> HttpResponse:
    """The early-warning worklist (who to reach next, as many as staff can reach) or the
    list of students already chronically absent; `download=csv` or `xlsx` gives it as a file."""
    user = request.user
    school_year = school_year_for(user)
    state = summary_state(user)
    rules = summary_rules(state) if state else None
    schools, grades = worklist_menus(user, school_year=school_year)
    form = WorklistForm(request.GET, schools=schools, grades=grades, rules=rules)
    filters, chosen = form.filters(), form.chosen_list()
    if chosen == CHRONIC:
        tiers = [tier.name for tier in rules.tiers] if rules else []  # most intensive first
        worklist = chronic_list(user, school_year=school_year, filters=filters, tier_order=tiers)
    else:
        capacity = user.district.risk_capacity if user.district_id else 0
        worklist = early_warning_worklist(
            user, school_year=school_year, filters=filters, capacity_share=capacity
        )
    file_format = download_format(request.GET.get("download"))
    if file_format:
        return worklist_download(
            user,
            worklist=worklist,
            chosen=chosen,
            rules=rules,
            file_format=file_format,
            filters=form.applied(),
        )
    page = Paginator(worklist.ids, STUDENTS_PER_PAGE).get_page(request.GET.get("page"))
    page.object_list = worklist_rows(worklist.rows_of(list(page.object_list)), rules=rules)
    context = {
        "form": form,
        "chosen": chosen,
        "worklist": worklist,
        "capacity_share": user.district.risk_capacity if user.district_id else None,
        "state": state,
        "page": page,
        "page_links": page_links(page, request.GET),
        "downloads": download_links(request.GET),
        "list_links": list_links(request.GET),
        "day_places": day_places(row.summary.days_absent for row in page.object_list),
    }
    return render(request, "web/warnings.html", context, status=400 if form.errors else 200)


def import_list(request: HttpRequest) -> HttpResponse:
    """The district's import runs, newest first (administrators and analysts)."""
    user = request.user
    if not may_view_imports(user):
        raise ImportRunNotFound
    page = Paginator(import_runs(user), RUNS_PER_PAGE).get_page(request.GET.get("page"))
    context = {"page": page, "rows": run_rows(page.object_list), "may_import": may_import(user)}
    return render(request, "web/imports.html", context)


def import_run(request: HttpRequest, run_id: int) -> HttpResponse:
    """One import run: its files, scope, counts and every problem listed."""
    run = access_import_run(request.user, run_id)
    context = {"run": run} | run_details(run_summary(run), request.GET.get("page"))
    return render(request, "web/import_run.html", context)


@csrf_exempt
def import_new(request: HttpRequest) -> HttpResponse:
    """The upload form; the files are kept, validated by a dry run, and the report shown.

    The size limit must be in place before anything reads the request body, so the CSRF
    check runs after it, in `_import_upload`.
    """
    if not may_import(request.user):
        raise UploadNotFound
    limit = UploadLimit(request)
    request.upload_handlers.insert(0, limit)
    return _import_upload(request, limit)


@csrf_protect
def _import_upload(request: HttpRequest, limit: UploadLimit) -> HttpResponse:
    form, too_large = ImportUploadForm(), ""
    if request.method == "POST":
        form = ImportUploadForm(request.POST, request.FILES)  # reading them applies the limit
        if limit.exceeded:
            form = ImportUploadForm(initial=request.POST.dict())
            too_large = (
                f"The files hold more than {filesizeformat(limit.limit)} together, so none "
                "was kept: import them in several runs, or ask for a smaller export."
            )
        elif form.is_valid():
            upload = receive_upload(
                user=request.user, options=form.options(), files=form.cleaned_data["files"]
            )
            return redirect("web:import_report", token=upload.token)
    context = {"form": form, "too_large": too_large, "max_upload": limit.limit}
    status = 400 if form.errors or too_large else 200
    return render(request, "web/import_new.html", context, status=status)


def _report(request: HttpRequest, upload: Upload, refusal: str = "") -> HttpResponse:
    context = {"upload": upload, "options": upload.options, "refusal": refusal}
    if upload.report is not None:
        context |= run_details(upload.report, request.GET.get("page"))
    return render(request, "web/import_report.html", context, status=409 if refusal else 200)


def import_report(request: HttpRequest, token: str) -> HttpResponse:
    """The validation report of an upload: what the import would change, every problem."""
    return _report(request, access_upload(request.user, token))


@require_POST
def import_allow_deletes(request: HttpRequest, token: str) -> HttpResponse:
    """The uploader allows the large deletions the report showed: the report is made again."""
    upload = access_upload(request.user, token)
    try:
        upload = allow_large_deletes(upload, user=request.user)
    except UploadRefused as refused:
        return _report(request, upload, refusal=str(refused))
    return redirect("web:import_report", token=upload.token)


@require_POST
def import_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """Import the files of a report for real, then show the run."""
    upload = access_upload(request.user, token)
    try:
        run = do_run_upload(user=request.user, upload=upload)
    except UploadRefused as refused:
        return _report(request, upload, refusal=str(refused))
    return redirect("web:import_run", run_id=run.pk)
