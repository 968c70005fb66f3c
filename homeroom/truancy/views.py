"""Pages of truancy escalation: parse, call one action or selector, render. A refusal comes
back from the action as a `ValidationError` shown beside its field, nothing saved."""

import datetime as dt

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from homeroom.access.truancy import edits_truancy_pack
from homeroom.roster.models import Language
from homeroom.truancy import actions, forms, selectors
from homeroom.truancy.packs import PackError


def _school_id(request: HttpRequest) -> int | None:
    value = request.GET.get("school", "")
    return int(value) if value.isdigit() else None


def _pack(district) -> tuple:
    """The district's pack and label, or the error its copy reads with (shown, not raised)."""
    if district is None:
        return None, ""
    try:
        return selectors.district_pack(district), ""
    except PackError as error:
        return None, str(error)


def queue(request: HttpRequest) -> HttpResponse:
    """A school's escalation queue: awaiting approval, under review, blocked, overdue, sent."""
    found = selectors.school_queue(request.user, school_id=_school_id(request))
    if found is None:
        raise Http404("No school's truancy queue is yours to read.")
    pack, pack_error = _pack(request.user.district)
    context = {
        "queue": found,
        "schools": selectors.queue_schools(request.user),
        "pack": pack,
        "pack_error": pack_error,
    }
    return render(request, "truancy/queue.html", context)


def _evidence_rows(step) -> list[dict]:
    return [
        row | {"date": dt.date.fromisoformat(row["date"])}
        for row in step.evidence.get("counted", [])
    ]


def _documents(step) -> list:
    """The step's documents, each with its language's name and the outbox messages that
    carry it to the family (a notice: the letter and the email)."""
    documents = list(step.documents.prefetch_related("messages__guardian"))
    for document in documents:
        language = document.language
        document.language_label = (
            Language(language).label if language in Language.values else language
        )
    return documents


def _step_context(request, step, access, **forms_given) -> dict:
    meeting_step = step.kind == "meeting" and step.status == "approved"
    as_of = step.evidence.get("as_of")
    return {
        "evidence": _evidence_rows(step),
        "evidence_as_of": dt.date.fromisoformat(as_of) if as_of else None,
        "step": step,
        "access": access,
        "documents": _documents(step),
        "meeting": getattr(step, "meeting", None),  # a missing one raises AttributeError
        "approve_form": forms_given.get("approve")
        or forms.DecisionForm(initial={"version": step.version}),
        "decline_form": forms_given.get("decline")
        or forms.DeclineForm(initial={"version": step.version}),
        "meeting_form": (
            forms_given.get("meeting") or forms.MeetingForm(initial={"version": step.version})
        )
        if meeting_step
        else None,
    }


def step_page(request: HttpRequest, step_id: int) -> HttpResponse:
    """One step: the evidence it stands on, its documents, and the decisions the user makes."""
    step, access = actions.do_view_step(request.user, step_id=step_id)
    return render(request, "truancy/step.html", _step_context(request, step, access))


def _refused(request, step_id: int, error: ValidationError, **forms_given) -> HttpResponse:
    step, access = selectors.step_with_access(request.user, step_id)
    context = _step_context(request, step, access, **forms_given)
    context["errors"] = [m for ms in error.message_dict.values() for m in ms]
    return render(request, "truancy/step.html", context, status=400)


def _decides(request, step_id: int) -> None:
    """404 for a step the user does not see, 403 for one they see but do not decide."""
    _, access = selectors.step_with_access(request.user, step_id)
    if not access.decides:
        raise PermissionDenied("Your role does not decide this step.")


@require_POST
def approve(request: HttpRequest, step_id: int) -> HttpResponse:
    """Approve a step (a notice's letter is generated and recorded as sent)."""
    _decides(request, step_id)
    form = forms.DecisionForm(request.POST)
    if not form.is_valid():
        return _refused(request, step_id, ValidationError({"version": gettext("Reload the page.")}))
    try:
        step = actions.do_approve_step(request.user, step_id=step_id, **form.cleaned_data)
    except ValidationError as error:
        return _refused(request, step_id, error)
    messages.success(
        request,
        gettext("%(step)s: %(status)s.")
        % {"step": step.title, "status": step.get_status_display().lower()},
    )
    return redirect("truancy:step", step_id=step_id)


@require_POST
def decline(request: HttpRequest, step_id: int) -> HttpResponse:
    """Decline a step with a reason."""
    _decides(request, step_id)
    form = forms.DeclineForm(request.POST)
    if not form.is_valid():
        return _refused(request, step_id, ValidationError(form.errors), decline=form)
    try:
        actions.do_decline_step(request.user, step_id=step_id, **form.cleaned_data)
    except ValidationError as error:
        return _refused(request, step_id, error, decline=form)
    messages.success(request, gettext("Step declined."))
    return redirect("truancy:step", step_id=step_id)


@require_POST
def meeting(request: HttpRequest, step_id: int) -> HttpResponse:
    """Record a meeting as held, with its agreement (generated as a PDF)."""
    _decides(request, step_id)
    form = forms.MeetingForm(request.POST)
    if not form.is_valid():
        return _refused(request, step_id, ValidationError(form.errors), meeting=form)
    try:
        actions.do_record_meeting(request.user, step_id=step_id, **form.cleaned_data)
    except ValidationError as error:
        return _refused(request, step_id, error, meeting=form)
    messages.success(request, gettext("Meeting recorded; the agreement is ready to print."))
    return redirect("truancy:step", step_id=step_id)


def document(request: HttpRequest, document_id: int) -> HttpResponse:
    """A generated document, rendered again from its frozen snapshot."""
    found, pdf, _ = actions.do_open_document(request.user, document_id=document_id)
    response = HttpResponse(pdf, content_type="application/pdf")
    name = f"{found.step.key}-{found.kind}-{found.step.student.local_id}.pdf"
    response["Content-Disposition"] = f'inline; filename="{name}"'
    return response


def pack_page(request: HttpRequest) -> HttpResponse:
    """The district's truancy pack: read by all staff, chosen and edited by administrators."""
    chosen, pack_error = _pack(request.user.district)
    edits = edits_truancy_pack(request.user)
    current = getattr(request.user.district, "truancy_pack", None)
    form = forms.PackForm(
        initial={"based_on": current.based_on, "text": current.text} if current else None
    )
    status = 200
    if request.method == "POST":
        if not edits:
            raise PermissionDenied("Only the district's administrators choose its truancy pack.")
        form = forms.PackForm(request.POST)
        if form.is_valid():
            try:
                actions.do_choose_pack(request.user, **form.cleaned_data)
            except ValidationError as error:
                for field, problems in error.message_dict.items():
                    form.add_error(field, problems)
            else:
                messages.success(request, gettext("The district's truancy pack is saved."))
                return redirect("truancy:pack")
        status = 400
    context = {"chosen": chosen, "edits": edits, "form": form, "pack_error": pack_error}
    return render(request, "truancy/pack.html", context, status=status)
