"""Pages of case management: parse a form, call an action (`actions.do_*`) or a selector,
render. The actions check access, validate, audit and write the timeline; a refusal comes
back as a `ValidationError` naming the field, shown next to it with nothing saved, and a
`VersionConflict` as a message with the current version (HTTP 409).
"""

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_POST

from homeroom.access.cases import (
    edits_district_playbook,
    logs_family_contacts,
    opens_cases,
    refers_for_case,
    starts_interventions,
)
from homeroom.access.gatekeeper import StudentAccess, access_student
from homeroom.accounts.models import Role
from homeroom.core.actions import do_log_student_access
from homeroom.core.downloads import download_format, table_download
from homeroom.core.models import School
from homeroom.core.selectors import current_school_year, district_today
from homeroom.interventions import actions, forms, measures, selectors
from homeroom.interventions.actions import ActionItemInput, VersionConflict
from homeroom.interventions.growth import (
    DAYS_BEFORE,
    FEWEST_DAYS_AFTER,
    MOST_DAYS_AFTER,
    my_growth,
)
from homeroom.interventions.models import Case
from homeroom.roster.selectors import student_guardians
from homeroom.warnings.selectors import student_flags

# --------------------------------------------------------------------------------------
# Shared


def _show_errors(form, error: ValidationError) -> None:
    """Put an action's refusal next to the field it names; others (and hidden fields, such
    as the version) above the form."""
    for field, problems in error.message_dict.items():
        shown = field in form.fields and not form.fields[field].widget.is_hidden
        form.add_error(field if shown else None, problems)


def _status(error: ValidationError) -> int:
    return 409 if isinstance(error, VersionConflict) else 400


def _user_schools(user):
    """The schools whose pages the user works from: all of the district's for district staff."""
    if user.is_district_wide:
        return School.objects.filter(district_id=user.district_id).order_by("name")
    return user.schools.order_by("name")


# --------------------------------------------------------------------------------------
# The student page's section (rendered by the web app's student page)


def _timeline_kinds(entries) -> list[tuple[str, str]]:
    return sorted({(entry.kind, entry.label) for entry in entries}, key=lambda kind: kind[1])


def student_section(request: HttpRequest, access: StudentAccess) -> dict[str, Any]:
    """The case status, the forms a user may use, and the timeline (filtered by kind) of a
    student the user sees: the web app's student page includes it."""
    user, student = request.user, access.student
    status = selectors.student_case_status(user, student_id=student.pk)
    timeline = selectors.student_timeline(user, student_id=student.pk)
    timeline_filter = forms.TimelineFilterForm(request.GET, kinds=_timeline_kinds(timeline))
    kind = timeline_filter.kind_filter()
    context: dict[str, Any] = {
        "case_status": status,
        "timeline": [entry for entry in reversed(timeline) if not kind or entry.kind == kind],
        "timeline_filter": timeline_filter,
        "timeline_kind": kind,
    }
    if logs_family_contacts(user):
        context["contact_form"] = _contact_form(user, access)
    if starts_interventions(user, tiers=[1]):
        context["tier1_form"] = forms.StartInterventionForm(kinds=selectors.playbook(user, tier=1))
    if opens_cases(user) and (status is None or status.status != Case.Status.OPEN):
        open_flags = [flag for flag in student_flags(access) if flag.cleared_on is None]
        context["open_case_form"] = forms.OpenCaseForm(flags=open_flags)
    if refers_for_case(user) and (status is None or status.status != Case.Status.OPEN):
        context["refer_form"] = forms.ReferForCaseForm()
    return context


def _contact_form(user, access: StudentAccess, data=None) -> forms.ContactForm:
    return forms.ContactForm(
        data,
        guardians=student_guardians(access),
        today=district_today(user.district),
        language=access.student.home_language,
    )


def _student_form_page(
    request, access, template: str, form, status: int = 200, **extra
) -> HttpResponse:
    """A student-level form on a page of its own (a form sent from the student page with a
    mistake comes back here, its messages beside the fields); the view is audited."""
    do_log_student_access(
        user=request.user,
        student_id=access.student.pk,
        subject=template.removeprefix("interventions/").removesuffix(".html").replace("_", " "),
        access_reason=access.grant,
    )
    context = {"student": access.student, "form": form} | extra
    return render(request, template, context, status=status)


def _to_student(student_id: int, anchor: str = "case-work") -> HttpResponse:
    return redirect(reverse("web:student", args=[student_id]) + f"#{anchor}")


def log_contact(request: HttpRequest, student_id: int) -> HttpResponse:
    """Log a contact with a student's family (the student page holds the same form)."""
    user = request.user
    access = access_student(user, student_id)
    if not logs_family_contacts(user):
        raise PermissionDenied("Your role does not log contacts with families.")
    form = _contact_form(user, access, request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                actions.do_log_contact(user, student_id=student_id, **form.arguments())
            except ValidationError as error:
                _show_errors(form, error)
            else:
                messages.success(request, "Contact logged.")
                return _to_student(student_id)
        status = 400
    return _student_form_page(request, access, "interventions/log_contact.html", form, status)


def start_intervention(request: HttpRequest, student_id: int) -> HttpResponse:
    """Start a playbook intervention for a student (teachers: Tier 1 only)."""
    user = request.user
    access = access_student(user, student_id)
    tier = None if opens_cases(user) else 1
    if not starts_interventions(user, tiers=[tier or 1]):
        raise PermissionDenied("Your role does not start interventions.")
    kinds = selectors.playbook(user, tier=tier)
    data = request.POST if request.method == "POST" else None
    form = forms.StartInterventionForm(data, kinds=kinds)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                actions.do_start_intervention(user, student_id=student_id, **form.cleaned_data)
            except ValidationError as error:
                _show_errors(form, error)
            else:
                messages.success(request, "Intervention started.")
                return _to_student(student_id)
        status = 400
    return _student_form_page(
        request, access, "interventions/start_intervention.html", form, status
    )


def open_case(request: HttpRequest, student_id: int) -> HttpResponse:
    """Open a case for a student, from one of their flags or by hand."""
    user = request.user
    access = access_student(user, student_id)
    if not opens_cases(user):
        raise PermissionDenied("Counselors and principals open cases.")
    flags = [flag for flag in student_flags(access) if flag.cleared_on is None]
    initial = {"source_flag_id": request.GET.get("flag")} if request.GET.get("flag") else None
    data = request.POST if request.method == "POST" else None
    form = forms.OpenCaseForm(data, flags=flags, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                case = actions.do_open_case(user, student_id=student_id, **form.arguments())
            except ValidationError as error:
                _show_errors(form, error)
            else:
                messages.success(request, "Case opened.")
                return redirect("interventions:case", case_id=case.pk)
        status = 400
    return _student_form_page(request, access, "interventions/open_case.html", form, status)


def refer_for_case(request: HttpRequest, student_id: int) -> HttpResponse:
    """A teacher asks for a case for a student they teach (a referral to the case team)."""
    user = request.user
    access = access_student(user, student_id)
    if not refers_for_case(user):
        raise PermissionDenied("Teachers ask for a case; counselors and principals open one.")
    data = request.POST if request.method == "POST" else None
    form = forms.ReferForCaseForm(data)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                actions.do_refer_for_case(user, student_id=student_id, **form.arguments())
            except ValidationError as error:
                _show_errors(form, error)
            else:
                messages.success(
                    request, "Case requested: the principal assigns it a case manager."
                )
                return _to_student(student_id)
        status = 400
    return _student_form_page(request, access, "interventions/refer_for_case.html", form, status)


# --------------------------------------------------------------------------------------
# The case page


def _case(user, case_id: int) -> Case:
    """A case of a student the user sees (for a form's choices); else the missing page."""
    case = selectors.visible_cases(user).filter(pk=case_id).first()
    if case is None:
        raise Http404("No case with that id is visible to you.")
    return case


def _owners(user, case: Case):
    counselors = [row.user for row in selectors.caseload_weights(user, school_id=case.school_id)]
    return [user, case.case_manager, *counselors]


def _manager_choices(user, case: Case) -> list[tuple[int, str]]:
    rows = selectors.caseload_weights(user, school_id=case.school_id)
    choices = [
        (
            row.user.pk,
            f"{row.user.get_full_name() or row.user.username} "
            f"({row.open_cases} open, weighted {row.weighted})",
        )
        for row in rows
    ]
    if user.role == Role.PRINCIPAL and user.pk not in {pk for pk, _ in choices}:
        choices.append((user.pk, f"{user.get_full_name() or user.username} (you)"))
    return choices


@dataclass(frozen=True)
class CaseAction:
    """A form of the case page and the action it calls with the form's arguments."""

    form: type
    call: Any
    anchor: str
    done: str
    entry_field: str = ""


def _form_kwargs(name: str, user, case: Case) -> dict:
    """The choices a case page form offers, from the selectors."""
    if name == "barrier":
        return {"barriers": selectors.barriers(user)}
    if name == "intervention":
        return {"kinds": selectors.playbook(user, tier=case.tier)}
    if name == "follow_up":
        return {"owners": _owners(user, case)}
    if name == "referral":
        return {"partners": selectors.partners(user, school_id=case.school_id)}
    if name == "manager":
        return {"staff": _manager_choices(user, case)}
    return {}


def _data(form) -> dict:
    return dict(form.cleaned_data)


def _without(form, *names: str) -> dict:
    return {k: v for k, v in form.cleaned_data.items() if k not in names}


CASE_ACTIONS: dict[str, CaseAction] = {
    "barrier": CaseAction(
        forms.BarrierForm,
        lambda user, case, f: actions.do_record_barrier(user, case_id=case.pk, **_data(f)),
        "barriers",
        "Barrier recorded.",
    ),
    "plan": CaseAction(
        forms.PlanForm,
        lambda user, case, f: actions.do_write_plan(user, case_id=case.pk, **f.arguments()),
        "plans",
        "Plan written.",
    ),
    "revise_plan": CaseAction(
        forms.RevisePlanForm,
        lambda user, case, f: actions.do_revise_plan(
            user,
            plan_id=f.cleaned_data["plan_id"],
            version=f.cleaned_data["version"],
            **_without_plan(f.arguments()),
        ),
        "plans",
        "Plan revised.",
        "plan_id",
    ),
    "review_plan": CaseAction(
        forms.ReviewPlanForm,
        lambda user, case, f: actions.do_review_plan(user, **_data(f)),
        "plans",
        "Plan review recorded.",
        "plan_id",
    ),
    "intervention": CaseAction(
        forms.StartInterventionForm,
        lambda user, case, f: actions.do_start_intervention(
            user, student_id=case.student_id, **_data(f)
        ),
        "interventions",
        "Intervention started.",
    ),
    "follow_up": CaseAction(
        forms.FollowUpForm,
        lambda user, case, f: actions.do_schedule_follow_up(user, case_id=case.pk, **_data(f)),
        "follow-ups",
        "Follow-up scheduled.",
    ),
    "complete_follow_up": CaseAction(
        forms.CompleteFollowUpForm,
        lambda user, case, f: actions.do_complete_follow_up(user, **_data(f)),
        "follow-ups",
        "Follow-up done.",
        "follow_up_id",
    ),
    "referral": CaseAction(
        forms.ReferralForm,
        lambda user, case, f: actions.do_refer_to_partner(user, case_id=case.pk, **_data(f)),
        "referrals",
        "Referral made.",
    ),
    "referral_status": CaseAction(
        forms.ReferralStatusForm,
        lambda user, case, f: actions.do_update_referral(user, **_data(f)),
        "referrals",
        "Referral updated.",
        "referral_id",
    ),
    "note": CaseAction(
        forms.NoteForm,
        lambda user, case, f: actions.do_add_case_note(user, case_id=case.pk, **_data(f)),
        "notes",
        "Note added.",
    ),
    "strike": CaseAction(
        forms.StrikeForm,
        lambda user, case, f: actions.do_strike(user, **_data(f)),
        "case-timeline",
        "Struck through; it stays in the history.",
        "entry_id",
    ),
    "tier": CaseAction(
        forms.TierForm,
        lambda user, case, f: actions.do_change_case_tier(user, case_id=case.pk, **_data(f)),
        "case-status",
        "Tier changed.",
    ),
    "manager": CaseAction(
        forms.ManagerForm,
        lambda user, case, f: actions.do_assign_case_manager(user, case_id=case.pk, **_data(f)),
        "case-status",
        "Case manager assigned.",
    ),
    "close": CaseAction(
        forms.CloseForm,
        lambda user, case, f: actions.do_close_case(user, case_id=case.pk, **_data(f)),
        "case-status",
        "Case closed.",
    ),
}


def _without_plan(arguments: dict) -> dict:
    return {k: v for k, v in arguments.items() if k != "plan_id"}


def _entry_forms(user, file, bound: tuple | None) -> dict[str, list]:
    """Per entry of the case, the forms that change it: a bound one where a mistake was made."""

    def form_for(name: str, key: Any, initial: dict):
        if bound and bound[0] == name and bound[1] == key:
            return bound[2]
        if name == "strike":
            return forms.UnsentStrike(**initial, auto_id=f"id_{name}_{key}_%s")
        return CASE_ACTIONS[name].form(initial=initial, auto_id=f"id_{name}_{key}_%s")

    today = district_today(user.district)
    rows: dict[str, list] = {}
    rows["plans"] = [
        {
            "plan": plan,
            "revise": bound[2]
            if bound and bound[0] == "revise_plan" and bound[1] == plan.pk
            else forms.RevisePlanForm.of_plan(plan, auto_id=f"id_revise_plan_{plan.pk}_%s"),
            "review": form_for(
                "review_plan",
                plan.pk,
                {"plan_id": plan.pk, "version": plan.version, "reviewed_on": today},
            ),
            "strike": form_for("strike", f"plan-{plan.pk}", {"entry": "plan", "entry_id": plan.pk}),
        }
        for plan in file.plans
    ]
    rows["follow_ups"] = [
        {
            "follow_up": follow_up,
            "complete": form_for(
                "complete_follow_up",
                follow_up.pk,
                {"follow_up_id": follow_up.pk, "version": follow_up.version, "done_on": today},
            ),
            "strike": form_for(
                "strike",
                f"follow_up-{follow_up.pk}",
                {"entry": "follow_up", "entry_id": follow_up.pk},
            ),
        }
        for follow_up in file.follow_ups
    ]
    rows["referrals"] = [
        {
            "referral": referral,
            "status": form_for(
                "referral_status",
                referral.pk,
                {
                    "referral_id": referral.pk,
                    "version": referral.version,
                    "status": referral.status,
                },
            ),
            "strike": form_for(
                "strike",
                f"referral-{referral.pk}",
                {"entry": "referral", "entry_id": referral.pk},
            ),
        }
        for referral in file.referrals
    ]
    for name, entries in (
        ("barrier", file.barriers),
        ("intervention", file.interventions),
        ("contact", file.contacts),
        ("note", file.notes + file.confidential_notes),
    ):
        rows[f"{name}s"] = [
            {
                "entry": entry,
                "strike": form_for(
                    "strike", f"{name}-{entry.pk}", {"entry": name, "entry_id": entry.pk}
                ),
            }
            for entry in entries
        ]
    rows["notes"].sort(key=lambda row: (row["entry"].written_on, row["entry"].pk))
    return rows


def _case_page(request, case_id: int, bound: tuple | None = None, status: int = 200):
    """The case file as the user may read it (the reading audited), with its forms; `bound`
    is (form name, entry key, form) of a form sent back with its mistakes."""
    user = request.user
    file = actions.do_view_case(user, case_id=case_id)
    case = file.case
    today = district_today(user.district)
    versioned = {"version": case.version}
    fresh = {
        "barrier": {},
        "plan": {
            "goal_until": today + dt.timedelta(weeks=8),
            "review_on": today + dt.timedelta(weeks=4),
        },
        "intervention": {},
        "follow_up": {"owner_id": user.pk, "due_on": today + dt.timedelta(weeks=1)},
        "referral": {},
        "note": {},
        "tier": versioned | {"tier": case.tier},
        "manager": versioned | {"case_manager_id": case.case_manager_id},
        "close": versioned,
    }
    case_forms = {}
    for name, initial in fresh.items():
        if bound and bound[0] == name:
            case_forms[name] = bound[2]
        else:
            case_forms[name] = CASE_ACTIONS[name].form(
                initial=initial, auto_id=f"id_{name}_%s", **_form_kwargs(name, user, case)
            )
    suggested_manager = None
    if file.access.assigns_manager:
        suggested_manager = selectors.suggested_case_manager(user, case_id=case.pk)
    timeline = [entry for entry in reversed(file.timeline) if entry.case_id == case.pk]
    context = {
        "file": file,
        "case": case,
        "student": case.student,
        "forms": case_forms,
        "rows": _entry_forms(user, file, bound),
        "suggested": file.suggested_interventions[:5],
        "suggested_manager": suggested_manager,
        "timeline": timeline,
        "is_open": case.status == Case.Status.OPEN,
        "bound_name": bound[0] if bound else "",
    }
    return render(request, "interventions/case.html", context, status=status)


def case_page(request: HttpRequest, case_id: int) -> HttpResponse:
    """One case: status, barriers, plan, interventions, follow-ups, referrals, notes."""
    return _case_page(request, case_id)


@require_POST
def case_action(request: HttpRequest, case_id: int, action: str) -> HttpResponse:
    """Any change to a case made from its page: the action named in the address."""
    user = request.user
    spec = CASE_ACTIONS[action]
    case = _case(user, case_id)
    key: Any = None
    if spec.entry_field:
        key = request.POST.get(spec.entry_field, "")
        key = int(key) if key.isdigit() else key
        if action == "strike":
            key = f"{request.POST.get('entry')}-{key}"
    auto_id = f"id_{action}_{key}_%s" if spec.entry_field else f"id_{action}_%s"
    form = spec.form(request.POST, auto_id=auto_id, **_form_kwargs(action, user, case))
    status = 400
    if form.is_valid():
        try:
            spec.call(user, case, form)
        except ValidationError as error:
            _show_errors(form, error)
            status = _status(error)
        else:
            messages.success(request, spec.done)
            return redirect(reverse("interventions:case", args=[case_id]) + f"#{spec.anchor}")
    return _case_page(request, case_id, bound=(action, key, form), status=status)


# --------------------------------------------------------------------------------------
# Caseload (the home of counselors and case managers)


def caseload(request: HttpRequest) -> HttpResponse:
    """My open cases, my follow-ups due today and overdue, new flags without a case; for a
    principal, also the open cases of their schools that have no case manager yet."""
    user = request.user
    mine = selectors.my_caseload(user)
    file_format = download_format(request.GET.get("download"))
    if file_format:
        return _caseload_download(user, mine, file_format)
    context = {
        "caseload": mine,
        "unassigned": selectors.cases_awaiting_manager(user),
        "schools": _user_schools(user) if opens_cases(user) else [],
        "opens_cases": opens_cases(user),
    }
    return render(request, "interventions/caseload.html", context)


CASELOAD_EXPORT_HEADER = (
    "Student id",
    "Last name",
    "First name",
    "Tier",
    "School",
    "Opened",
    "Overdue follow-ups",
    "Follow-up scheduled",
)


def _caseload_download(user, mine: selectors.Caseload, file_format: str) -> HttpResponse:
    """My open cases, as the caseload page lists them, as a file."""
    rows = [
        (
            case.student.local_id,
            case.student.last_name,
            case.student.first_name,
            f"Tier {case.tier}",
            case.school.name,
            case.opened_on,
            case.overdue_follow_ups,
            "Yes" if case.has_follow_up else "No",
        )
        for case in mine.cases
    ]
    return table_download(
        user=user,
        file_format=file_format,
        subject="caseload",
        filename="my-caseload",
        header=CASELOAD_EXPORT_HEADER,
        rows=rows,
        filters={},
    )


# --------------------------------------------------------------------------------------
# Team meeting


def _agenda(request: HttpRequest):
    """The school and date asked for (the first school the user serves, today, by default)."""
    user = request.user
    schools = list(_user_schools(user))
    if not schools:
        raise Http404("You serve no school.")
    data = {
        "school": request.GET.get("school") or schools[0].pk,
        "on": request.GET.get("on") or district_today(user.district).isoformat(),
    }
    choose = forms.AgendaForm(data, schools=schools)
    if not choose.is_valid():
        return choose, None, None
    school = next(s for s in schools if s.pk == choose.cleaned_data["school"])
    agenda = selectors.team_meeting_agenda(user, school_id=school.pk, on=choose.cleaned_data["on"])
    return choose, school, agenda


def team_meeting(request: HttpRequest) -> HttpResponse:
    """A school's attendance team meeting for a date: who to discuss and why, what was
    tried, open action items; the school's principal and counselors record the meeting."""
    user = request.user
    choose, school, agenda = _agenda(request)
    status = 200 if agenda is not None else 400
    record = None
    if agenda is not None and opens_cases(user):
        students = [row.student for row in agenda.students]
        record = forms.TeamMeetingForm(
            request.POST if request.method == "POST" else None,
            owners=forms.school_staff(school.pk, user.district_id),
            students=students,
        )
        if request.method == "POST":
            status = 400
            if record.is_valid():
                try:
                    actions.do_record_team_meeting(
                        user,
                        school_id=school.pk,
                        held_on=agenda.on,
                        notes=record.cleaned_data["notes"],
                        action_items=[ActionItemInput(**i) for i in record.action_items()],
                    )
                except ValidationError as error:
                    _show_errors(record, error)
                else:
                    messages.success(request, "Team meeting recorded.")
                    return redirect(request.get_full_path())
    elif request.method == "POST":
        raise PermissionDenied("The school's principal and counselors record its team meetings.")
    context = {"choose": choose, "school": school, "agenda": agenda, "record": record}
    return render(request, "interventions/team_meeting.html", context, status=status)


def team_meeting_pdf(request: HttpRequest) -> HttpResponse:
    """The team meeting agenda as a PDF (WeasyPrint), or as a printable page without it."""
    _, school, agenda = _agenda(request)
    if agenda is None:
        raise Http404("Choose a school and a date.")
    context = {"school": school, "agenda": agenda, "printed_on": district_today(school.district)}
    html = render_to_string("interventions/team_meeting_print.html", context, request=request)
    try:
        import weasyprint  # a dependency; imported here so a broken install costs one page only
    except (ImportError, OSError):
        return HttpResponse(html)
    # No base_url: the document fetches nothing (its stylesheet is inline).
    pdf = weasyprint.HTML(string=html).write_pdf()
    response = HttpResponse(pdf, content_type="application/pdf")
    name = f"team-meeting-{school.local_id}-{agenda.on.isoformat()}.pdf"
    response["Content-Disposition"] = f'inline; filename="{name}"'
    return response


# --------------------------------------------------------------------------------------
# District: playbook, barriers, partners


def playbook_page(request: HttpRequest) -> HttpResponse:
    """The district's playbook: intervention types by tier, with the barriers they address."""
    user = request.user
    context = {
        "kinds": selectors.playbook(user, include_retired=True),
        "edits": edits_district_playbook(user),
        "sis_codes": _sis_rows(user),
        "retire_form": forms.RetireForm(),
    }
    return render(request, "interventions/playbook.html", context)


def _sis_rows(user) -> list[tuple]:
    """Each SIS code with the form that maps it (administrators) or None."""
    kinds = selectors.playbook(user) if edits_district_playbook(user) else None
    rows = []
    for sis in selectors.sis_intervention_codes(user):
        form = None
        if kinds is not None:
            chosen = sis.kind.pk if sis.mapped and sis.kind else None
            initial = {"code": sis.code, "intervention_type_id": chosen}
            form = forms.SisMappingForm(initial=initial, kinds=kinds)
        rows.append((sis, form))
    return rows


@require_POST
def playbook_map(request: HttpRequest) -> HttpResponse:
    """Show an SIS intervention code as a playbook entry, or as itself again."""
    user = request.user
    _must_edit(user)
    form = forms.SisMappingForm(request.POST, kinds=selectors.playbook(user))
    if not form.is_valid():
        messages.error(request, "Nothing was changed: choose an intervention of the playbook.")
    else:
        try:
            actions.do_map_sis_intervention(user, **form.cleaned_data)
        except ValidationError as error:
            messages.error(request, "Nothing was changed: " + " ".join(error.messages))
        else:
            messages.success(request, f"SIS code {form.cleaned_data['code']} mapped.")
    return redirect(reverse("interventions:playbook") + "#sis-codes")


def _must_edit(user) -> None:
    if not edits_district_playbook(user):
        raise PermissionDenied("District administrators edit the playbook and partners.")


def playbook_entry(request: HttpRequest) -> HttpResponse:
    """Add an intervention type to the playbook, or change one (`?key=`)."""
    user = request.user
    _must_edit(user)
    listed = selectors.barriers(user)
    if request.method == "POST":
        form = forms.InterventionTypeForm(request.POST, barriers=listed)
        if form.is_valid():
            try:
                actions.do_save_intervention_type(user, **form.cleaned_data)
            except ValidationError as error:
                _show_errors(form, error)
            else:
                messages.success(request, f"{form.cleaned_data['name']} saved.")
                return redirect("interventions:playbook")
        return render(request, "interventions/playbook_entry.html", {"form": form}, status=400)
    kind = None
    if request.GET.get("key"):
        kind = selectors.playbook(user, include_retired=True).filter(key=request.GET["key"]).first()
        if kind is None:
            raise Http404("No such intervention in the playbook.")
    initial = {}
    if kind is not None:
        initial = {
            "key": kind.key,
            "name": kind.name,
            "tiers": kind.tiers,
            "barrier_ids": [b.pk for b in kind.barriers.all()],
            "description": kind.description,
            "typical_weeks": kind.typical_weeks,
            "evidence": kind.evidence,
        }
    form = forms.InterventionTypeForm(initial=initial, barriers=listed)
    return render(request, "interventions/playbook_entry.html", {"form": form, "kind": kind})


def playbook_import(request: HttpRequest) -> HttpResponse:
    """Replace the district's playbook by a TOML file: what it leaves out is retired."""
    user = request.user
    _must_edit(user)
    form, status = forms.PlaybookImportForm(), 200
    if request.method == "POST":
        form, status = forms.PlaybookImportForm(request.POST, request.FILES), 400
        text = form.text() if form.is_valid() else None
        if text is not None:
            try:
                counts = actions.do_import_playbook(user, text=text)
            except ValidationError as error:
                form.add_error("file", error.message_dict.get("playbook", error.messages))
            else:
                messages.success(
                    request,
                    f"Playbook imported: {counts['created']} added, {counts['updated']} "
                    f"changed, {counts['retired']} retired.",
                )
                return redirect("interventions:playbook")
    return render(request, "interventions/playbook_import.html", {"form": form}, status=status)


def playbook_export(request: HttpRequest) -> HttpResponse:
    """The district's playbook as a TOML file, to edit and import again."""
    text = selectors.export_playbook(request.user)
    response = HttpResponse(text, content_type="application/toml; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="playbook.toml"'
    return response


@require_POST
def retire(request: HttpRequest) -> HttpResponse:
    """Retire a barrier, intervention type or partner (kept in history)."""
    user = request.user
    _must_edit(user)
    form = forms.RetireForm(request.POST)
    back = {"barrier": "barriers", "intervention_type": "playbook", "partner": "partners"}
    if not form.is_valid():
        messages.error(request, "Nothing was retired: the request was incomplete.")
        return redirect("interventions:playbook")
    try:
        actions.do_retire(user, **form.cleaned_data)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "Retired: no longer offered, kept in the history.")
    return redirect(f"interventions:{back[form.cleaned_data['entry']]}")


def barrier_list(request: HttpRequest) -> HttpResponse:
    """The barriers (root causes) the district tracks; administrators add and rename them."""
    user = request.user
    form, status = forms.BarrierEntryForm(), 200
    if request.method == "POST":
        _must_edit(user)
        form, status = forms.BarrierEntryForm(request.POST), 400
        if form.is_valid():
            try:
                actions.do_save_barrier(user, **form.cleaned_data)
            except ValidationError as error:
                _show_errors(form, error)
            else:
                messages.success(request, f"{form.cleaned_data['name']} saved.")
                return redirect("interventions:barriers")
    context = {
        "barriers": selectors.barriers(user, include_retired=True),
        "edits": edits_district_playbook(user),
        "form": form,
    }
    return render(request, "interventions/barriers.html", context, status=status)


def partner_list(request: HttpRequest) -> HttpResponse:
    """The district's partner directory with each partner's open referrals."""
    user = request.user
    rows = selectors.partners(user, include_retired=True).prefetch_related("barriers", "schools")
    context = {"partners": rows.order_by("name"), "edits": edits_district_playbook(user)}
    return render(request, "interventions/partners.html", context)


def partner_edit(request: HttpRequest) -> HttpResponse:
    """Add a partner to the directory, or change one (`?id=`), at the version read."""
    user = request.user
    _must_edit(user)
    choices = {
        "barriers": selectors.barriers(user),
        "schools": School.objects.filter(district_id=user.district_id).order_by("name"),
    }
    if request.method == "POST":
        form = forms.PartnerForm(request.POST, **choices)
        status = 400
        if form.is_valid():
            try:
                actions.do_save_partner(user, **form.cleaned_data)
            except ValidationError as error:
                _show_errors(form, error)
                status = _status(error)
            else:
                messages.success(request, f"{form.cleaned_data['name']} saved.")
                return redirect("interventions:partners")
        return render(request, "interventions/partner_edit.html", {"form": form}, status=status)
    partner = None
    if request.GET.get("id", "").isdigit():
        listed = selectors.partners(user, include_retired=True)
        partner = listed.filter(pk=request.GET["id"]).first()
        if partner is None:
            raise Http404("No such partner in the directory.")
    initial = {}
    if partner is not None:
        initial = {
            "partner_id": partner.pk,
            "version": partner.version,
            "name": partner.name,
            "services": partner.services,
            "barrier_ids": [b.pk for b in partner.barriers.all()],
            "languages": partner.languages,
            "contact_name": partner.contact_name,
            "phone": partner.phone,
            "email": partner.email,
            "capacity": partner.capacity,
            "school_ids": [s.pk for s in partner.schools.all()],
        }
    form = forms.PartnerForm(initial=initial, **choices)
    return render(request, "interventions/partner_edit.html", {"form": form, "partner": partner})


# --------------------------------------------------------------------------------------
# Process measures


def _window(request: HttpRequest) -> forms.WindowForm:
    """The window asked for; by default the school year so far."""
    user = request.user
    today = district_today(user.district)
    year = current_school_year(user.district_id, today)
    start = year.start_date if year else today - dt.timedelta(days=90)
    data = {
        "start": request.GET.get("start") or start.isoformat(),
        "end": request.GET.get("end") or today.isoformat(),
    }
    return forms.WindowForm(data)


def measures_page(request: HttpRequest) -> HttpResponse:
    """Process measures for the district (or the principal's schools), each school and, for
    district staff, each staff member listed by name (never ranked)."""
    window = _window(request)
    result = None
    if window.is_valid():
        result = measures.process_measures(request.user, **window.cleaned_data)
    elif not (request.user.is_district_wide or request.user.role == Role.PRINCIPAL):
        raise PermissionDenied("District staff and principals see process measures.")
    context = {"window": window, "result": result}
    return render(request, "interventions/measures.html", context, status=200 if result else 400)


def follow_through(request: HttpRequest) -> HttpResponse:
    """My own follow-through over a window: for me alone, never beside anyone else's."""
    window = _window(request)
    mine = growth = None
    if window.is_valid():
        mine = measures.my_follow_through(request.user, **window.cleaned_data)
        growth = my_growth(request.user, **window.cleaned_data)
    context = {
        "window": window,
        "mine": mine,
        "growth": growth,
        "days_before": DAYS_BEFORE,
        "most_days_after": MOST_DAYS_AFTER,
        "fewest_days_after": FEWEST_DAYS_AFTER,
    }
    status = 200 if mine else 400
    return render(request, "interventions/follow_through.html", context, status=status)
