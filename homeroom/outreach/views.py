"""Pages and webhooks of family outreach: each parses, calls one action or selector, renders.

The provider's webhooks need no login and are exempt from CSRF (the provider holds neither
a session nor its token); they answer 403 unless `X-Twilio-Signature` proves the request
came from the district's account.
"""

import hmac
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext, gettext_lazy, ngettext
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from homeroom.access.cases import (
    logs_family_contacts,
    resolves_unknown_sends,
    resolves_unmatched_messages,
)
from homeroom.access.gatekeeper import StudentNotFound
from homeroom.core.actions import do_log_district_change, do_log_student_access
from homeroom.outreach import actions, letters, selectors
from homeroom.outreach.channels import signature_is_valid, sms_settings
from homeroom.outreach.forms import FamilyMessageForm, OutreachSettingsForm, TemplateForm
from homeroom.outreach.models import WITHOUT_TEMPLATES, LetterBatch, MessageKind
from homeroom.outreach.templates import PLACEHOLDERS, RIGHT_TO_LEFT
from homeroom.outreach.triggers import trigger_settings
from homeroom.roster.models import Language

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def _say_errors(request: HttpRequest, error: ValidationError) -> None:
    """Each problem of a refused action as a message above the page (row actions)."""
    for problems in error.message_dict.values():
        for problem in problems:
            messages.error(request, problem)


def _show_errors(form, error: ValidationError) -> None:
    for field, problems in error.message_dict.items():
        shown = field in form.fields and not form.fields[field].widget.is_hidden
        form.add_error(field if shown else None, problems)


def family_message(request: HttpRequest, student_id: int) -> HttpResponse:
    """Send a family a text or email from the student page or a case, and read the replies."""
    user = request.user
    access, conversation = selectors.conversation(user, student_id=student_id)
    if not logs_family_contacts(user):
        raise PermissionDenied("Your role does not contact families.")
    reachable = selectors.reachable_guardians(access)
    initial = {"case_id": request.GET.get("case"), "in_reply_to_id": request.GET.get("reply")}
    replying = next((m for m in conversation if str(m.pk) == request.GET.get("reply")), None)
    if replying is not None:
        initial["guardian_id"] = replying.guardian_id
    data = request.POST if request.method == "POST" else None
    form = FamilyMessageForm(data, reachable=reachable, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                actions.do_send_family_message(user, student_id=student_id, **form.cleaned_data)
            except ValidationError as error:
                _show_errors(form, error)
            else:
                messages.success(request, gettext("Message queued: it is sent within a minute."))
                return redirect(reverse("outreach:family-message", args=[student_id]))
        status = 400
    do_log_student_access(
        user=user,
        student_id=student_id,
        subject="family messages",
        access_reason=access.grant,
    )
    context = {
        "student": access.student,
        "form": form,
        "conversation": conversation,
        "reachable": reachable,
    }
    return render(request, "outreach/family_message.html", context, status=status)


def _signed(request: HttpRequest) -> bool:
    public = sms_settings().public_url
    url = f"{public}{request.get_full_path()}" if public else request.build_absolute_uri()
    params = {key: request.POST[key] for key in request.POST}
    return signature_is_valid(url, params, request.headers.get("X-Twilio-Signature", ""))


@login_not_required  # the provider signs its requests instead
@csrf_exempt
@require_POST
def sms_status(request: HttpRequest) -> HttpResponse:
    """The provider's status callback for one message (`?message=` names it)."""
    if not _signed(request):
        return HttpResponse("Signature not valid.", status=403, content_type="text/plain")
    try:
        message_id = int(request.GET.get("message", ""))
    except ValueError:
        return HttpResponse("Which message? (?message=)", status=400, content_type="text/plain")
    actions.do_record_delivery_report(
        message_id=message_id,
        provider_id=request.POST.get("MessageSid", ""),
        status=request.POST.get("MessageStatus", ""),
        error_code=request.POST.get("ErrorCode", ""),
    )
    return HttpResponse(status=204)


@login_not_required  # the provider signs its requests instead
@csrf_exempt
@require_POST
def sms_inbound(request: HttpRequest) -> HttpResponse:
    """A family's text to the district's number."""
    if not _signed(request):
        return HttpResponse("Signature not valid.", status=403, content_type="text/plain")
    actions.do_receive_text(
        sender=request.POST.get("From", ""),
        to=request.POST.get("To", ""),
        body=request.POST.get("Body", ""),
        provider_id=request.POST.get("MessageSid", ""),
        district_id=_district_named(request),
    )
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")


@login_not_required  # the mail service proves itself with the secret in the address instead
@csrf_exempt
@require_POST
def email_inbound(request: HttpRequest) -> HttpResponse:
    """A family's email, as an inbound-parse service posts it (SendGrid's Inbound Parse
    shape: the form fields `from`, `to`, `subject`, `text` and `headers`)."""
    expected = settings.HOMEROOM_EMAIL_INBOUND_TOKEN
    given = request.GET.get("token", "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        return HttpResponse("Token not valid.", status=403, content_type="text/plain")
    actions.do_receive_email(
        sender=request.POST.get("from", ""),
        to=request.POST.get("to", ""),
        subject=request.POST.get("subject", ""),
        text=request.POST.get("text", ""),
        headers=request.POST.get("headers", ""),
        district_id=_district_named(request),
    )
    return HttpResponse(status=200)


def _district_named(request: HttpRequest) -> int | None:
    """The district a webhook's address names (`?district=<id>`), for messages no guardian
    matches; the address is signed (texts) or secret (email), so it is the district's own."""
    named = request.GET.get("district", "")
    return int(named) if named.isdigit() else None


def unmatched(request: HttpRequest) -> HttpResponse:
    """Texts and emails no guardian could be matched to: assign each to a family or
    dismiss it (district administrators)."""
    user = request.user
    if not resolves_unmatched_messages(user):
        raise PermissionDenied("Unmatched messages are the district administrators'.")
    status = 200
    if request.method == "POST":
        try:
            message_id = _number(request.POST.get("message"))
            if "dismiss" in request.POST:
                actions.do_dismiss_unmatched(
                    user, message_id=message_id, reason=request.POST.get("reason", "")
                )
                messages.success(request, gettext("Dismissed."))
            else:
                chosen = request.POST.get("guardian_id")
                message = actions.do_assign_unmatched(
                    user,
                    message_id=message_id,
                    guardian_id=_number(chosen) if chosen is not None else None,
                    guardian_local_id=request.POST.get("guardian", ""),
                )
                messages.success(
                    request, gettext("Assigned to %(guardian)s.") % {"guardian": message.guardian}
                )
        except ValidationError as error:
            _say_errors(request, error)
            status = 400
        else:
            return redirect(reverse("outreach:unmatched"))
    waiting = selectors.unmatched_messages(user.district_id)
    do_log_district_change(
        user=user,
        subject="unmatched messages",
        action="view",
        details={"messages": [m.pk for m in waiting]},
    )
    context = {"waiting": waiting, "current": "unmatched", **_guardian_search(request)}
    context["sends_to_check"] = selectors.unknown_send_count(user.district_id)
    return render(request, "outreach/unmatched.html", context, status=status)


def _guardian_search(request: HttpRequest) -> dict:
    """The unmatched page's search for a message's guardian (`?find=<message>&q=`): the
    guardians of students the user sees whose name, roster ID, phone or email match. The
    children it names are a read of their records, audited on each child's trail."""
    find, query = request.GET.get("find", ""), request.GET.get("q", "").strip()[:100]
    if not find.isdigit():
        return {}
    found = selectors.find_guardians(request.user, query)
    for student_id in sorted({child.pk for match in found for child in match.children}):
        do_log_student_access(
            user=request.user,
            student_id=student_id,
            subject="guardians",
            access_reason="searched the guardians to match an unmatched message",
            details={"query": query},
        )
    return {"search_for": int(find), "query": query, "found": found}


def _district_staff(user) -> None:
    if not user.is_district_wide:
        raise PermissionDenied("Message templates are the district's: district staff only.")


def templates_list(request: HttpRequest) -> HttpResponse:
    """Every message kind in every language, with its version and whether it was reviewed."""
    _district_staff(request.user)
    held = {(t.kind, t.language): t for t in selectors.templates_of(request.user)}
    languages = [code for code in Language.values if code != Language.OTHER]
    rows = [
        {
            "kind": kind,
            "label": label,
            "cells": [{"language": code, "template": held.get((kind, code))} for code in languages],
        }
        for kind, label in MessageKind.choices
        if kind not in WITHOUT_TEMPLATES
    ]
    context = {"rows": rows, "languages": [Language(code) for code in languages]}
    return render(request, "outreach/templates.html", context)


def template_edit(request: HttpRequest) -> HttpResponse:
    """Edit one kind's words in one language; preview them for a real student before saving."""
    user = request.user
    _district_staff(user)
    kind, language = request.GET.get("kind", ""), request.GET.get("language", "")
    if kind in WITHOUT_TEMPLATES or kind not in MessageKind.values:
        raise Http404("No message kind or language of that name.")
    if language not in Language.values:
        raise Http404("No message kind or language of that name.")
    current = actions.current_template(user.district_id, kind, language)
    initial = {
        "kind": kind,
        "language": language,
        "version": current.version if current else None,
        "subject": current.subject if current else "",
        "body": current.body if current else "",
    }
    form = TemplateForm(request.POST or None, initial=initial)
    if language in RIGHT_TO_LEFT:  # Arabic is typed right to left, as it will be read
        for name in ("subject", "body"):
            form.fields[name].widget.attrs["dir"] = "rtl"
    preview, status = None, 200
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if "preview" in request.POST:
            if data["preview_student"] is None:
                form.add_error("preview_student", "Give the id of a student you see.")
                status = 400
            else:
                try:
                    access, preview = selectors.preview_template(
                        user,
                        student_id=data["preview_student"],
                        language=language,
                        subject=data["subject"],
                        body=data["body"],
                    )
                except StudentNotFound:
                    form.add_error("preview_student", "No student you see has this id.")
                    status = 400
                else:
                    do_log_student_access(
                        user=user,
                        student_id=access.student.pk,
                        subject="message template preview",
                        access_reason=access.grant,
                    )
        else:
            if not user.may_change_student_data or user.role != "district_admin":
                raise PermissionDenied("Only district administrators edit message templates.")
            try:
                saved = actions.do_save_template(
                    user,
                    kind=kind,
                    language=language,
                    subject=data["subject"],
                    body=data["body"],
                    version=data["version"],
                )
            except ValidationError as error:
                _show_errors(form, error)
                status = 400
            else:
                messages.success(
                    request,
                    gettext("Saved: %(kind)s in %(language)s, version %(version)s.")
                    % {
                        "kind": MessageKind(kind).label,
                        "language": Language(language).label,
                        "version": saved.version,
                    },
                )
                return redirect(reverse("outreach:templates"))
    elif request.method == "POST":
        status = 400
    context = {
        "form": form,
        "kind": MessageKind(kind),
        "language": Language(language),
        "current": current,
        "preview": preview,
        "placeholders": PLACEHOLDERS,
        "rtl": language in RIGHT_TO_LEFT,
    }
    return render(request, "outreach/template_edit.html", context, status=status)


def outreach_settings(request: HttpRequest) -> HttpResponse:
    """Switch each trigger and set its values, quiet hours, the weekly cap and the fallback."""
    user = request.user
    if user.role != "district_admin":
        raise PermissionDenied("The outreach settings are the district administrators'.")
    rules = actions.outreach_settings(user.district)
    initial = OutreachSettingsForm.initial_from(rules, trigger_settings(user.district))
    form = OutreachSettingsForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                actions.do_save_outreach_settings(
                    user,
                    triggers=form.triggers(),
                    quiet_start=data["quiet_start"],
                    quiet_end=data["quiet_end"],
                    weekly_cap=data["weekly_cap"],
                    fallback_language=data["fallback_language"],
                )
            except ValidationError as error:
                _show_errors(form, error)
            else:
                messages.success(
                    request, gettext("Outreach settings saved: tonight's triggers use them.")
                )
                return redirect(reverse("outreach:settings"))
        status = 400
    return render(request, "outreach/settings.html", {"form": form}, status=status)


def _district_admin(user) -> None:
    if user.role != "district_admin":
        raise PermissionDenied("Letter batches are the district administrators'.")


def letters_review(request: HttpRequest) -> HttpResponse:
    """The letters waiting to print, by school: exclude a household's, or approve and print."""
    user = request.user
    _district_admin(user)
    status = 200
    if request.method == "POST":
        try:
            if "exclude" in request.POST:
                letter = letters.do_exclude_letter(
                    user,
                    message_id=_number(request.POST.get("exclude")),
                    reason=request.POST.get("reason", ""),
                )
                messages.success(
                    request,
                    gettext("Excluded: the letter to %(guardian)s.")
                    % {"guardian": letter.guardian},
                )
            else:
                batch = letters.do_print_letters(user, school_id=_number(request.POST.get("print")))
                messages.success(
                    request,
                    ngettext(
                        "Printed: %(count)s letter for %(school)s. "
                        "Download the PDF and manifest below.",
                        "Printed: %(count)s letters for %(school)s. "
                        "Download the PDF and manifest below.",
                        batch.letters,
                    )
                    % {"count": batch.letters, "school": batch.school.name},
                )
        except ValidationError as error:
            _say_errors(request, error)
            status = 400
        else:
            return redirect(reverse("outreach:letters"))
    waiting = [
        {"school": school, "letters": found, "households": len(found)}
        for school, found in letters.letters_waiting(user.district_id).items()
    ]
    batches = LetterBatch.objects.filter(district_id=user.district_id).select_related(
        "school", "made_by"
    )[:20]
    context = {"waiting": waiting, "batches": batches}
    return render(request, "outreach/letters_review.html", context, status=status)


def _number(text: str | None) -> int:
    if text is None or not text.isdigit():
        raise ValidationError({"id": gettext("Choose one from the list.")})
    return int(text)


def letter_batch_file(request: HttpRequest, batch_id: int, part: str) -> FileResponse:
    """A printed batch's PDF or manifest, for the print shop (district administrators)."""
    user = request.user
    _district_admin(user)
    batch = LetterBatch.objects.filter(pk=batch_id, district_id=user.district_id).first()
    if batch is None or part not in ("pdf", "manifest"):
        raise Http404("No batch of that number.")
    path = Path(settings.DATA_DIR) / (batch.pdf if part == "pdf" else batch.manifest)
    if not path.is_file():
        raise Http404("The batch's files are no longer on the server.")
    do_log_district_change(
        user=user,
        subject="letter batch",
        action="export",
        details={"batch": batch.pk, "downloaded": part},
    )
    name = f"letters-{batch.pk}.pdf" if part == "pdf" else f"letters-{batch.pk}-manifest.csv"
    return FileResponse(path.open("rb"), as_attachment=True, filename=name)


def sends_to_check(request: HttpRequest) -> HttpResponse:
    """Messages whose sending was interrupted (a worker died after handing them over and
    before recording the answer): ask the provider, confirm sent, send again or give up
    (district administrators, as for unmatched messages)."""
    user = request.user
    if not resolves_unknown_sends(user):
        raise PermissionDenied(gettext("Interrupted sends are the district administrators'."))
    status = 200
    if request.method == "POST":
        try:
            message_id = _number(request.POST.get("message"))
            done = request.POST.get("resolution", "")
            if done == "check":
                message = actions.do_check_unknown(user, message_id=message_id)
                if message.status == message.Status.QUEUED:
                    messages.success(
                        request,
                        gettext(
                            "The provider has no record of this text: it never left. It is "
                            "back in the outbox and goes within a minute."
                        ),
                    )
                else:
                    messages.success(
                        request,
                        gettext("The provider took this text: it is marked “%(status)s”.")
                        % {"status": message.get_status_display()},
                    )
            else:
                message = actions.do_resolve_unknown(
                    user,
                    message_id=message_id,
                    resolution=done,
                    reason=request.POST.get("reason", ""),
                )
                messages.success(request, RESOLVED.get(done, ""))
        except ValidationError as error:
            _say_errors(request, error)
            status = 400
        else:
            return redirect(reverse("outreach:unknown"))
    waiting = selectors.unknown_sends(user)
    for student_id in sorted({child.pk for row in waiting for child in row.children}):
        do_log_student_access(
            user=user,
            student_id=student_id,
            subject="family messages",
            access_reason="listed the messages whose sending was interrupted",
        )
    context = {"waiting": waiting, "current": "unknown", "can_ask": sms_settings().configured}
    return render(request, "outreach/unknown.html", context, status=status)


RESOLVED = {
    "sent": gettext_lazy("Marked as sent."),
    "again": gettext_lazy("Back in the outbox: it is sent again within a minute."),
    "give_up": gettext_lazy("Given up: it is not sent again."),
}
