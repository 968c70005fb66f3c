"""Pages and webhooks of family outreach: each parses, calls one action or selector, renders.

The provider's webhooks need no login and are exempt from CSRF (the provider holds neither
a session nor its token); they answer 403 unless `X-Twilio-Signature` proves the request
came from the district's account.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from homeroom.access.cases import logs_family_contacts
from homeroom.core.actions import do_log_student_access
from homeroom.outreach import actions, selectors
from homeroom.outreach.channels import signature_is_valid, sms_settings
from homeroom.outreach.forms import FamilyMessageForm

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


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
                messages.success(request, "Message queued: it is sent within a minute.")
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
    )
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")
