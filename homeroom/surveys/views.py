"""Pages of needs surveys: each parses, calls one action or selector, renders.

The family's page (`survey_answer`) needs no account: its token is the key. It loads only
this server's stylesheet, carries Django's CSRF token like every form, and answers a bad
link (404) or a closed survey (410) with a page that says so in plain words.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from homeroom.access.surveys import NotCaseTeam, builds_surveys, reads_survey_results
from homeroom.core.actions import do_log_student_access
from homeroom.roster.models import Language
from homeroom.surveys import actions, selectors
from homeroom.surveys.forms import SurveyForm
from homeroom.surveys.models import Audience
from homeroom.surveys.wording import (
    barrier_label,
    is_right_to_left,
    language_of,
    page_words,
    survey_languages,
)


def _readers_only(user) -> None:
    if not reads_survey_results(user):
        raise PermissionDenied("Survey results are for staff who see a whole school's totals.")


def _builders_only(user) -> None:
    if not builds_surveys(user):
        raise PermissionDenied("Only district administrators build and send surveys.")


def survey_list(request: HttpRequest) -> HttpResponse:
    """The district's needs surveys."""
    _readers_only(request.user)
    context = {
        "surveys": selectors.surveys_of(request.user),
        "builds": builds_surveys(request.user),
    }
    return render(request, "surveys/list.html", context)


def survey_new(request: HttpRequest) -> HttpResponse:
    """Build a survey from the district's barrier list."""
    user = request.user
    _builders_only(user)
    form = SurveyForm(request.POST or None, district_id=user.district_id)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                survey = actions.do_create_survey(
                    user,
                    title=data["title"],
                    audience=data["audience"],
                    barrier_ids=[b.pk for b in data["barrier_ids"]],
                    closes_on=data["closes_on"],
                )
            except ValidationError as error:
                for field, problems in error.message_dict.items():
                    form.add_error(field if field in form.fields else None, problems)
            else:
                messages.success(request, "Survey saved. Check its words, then send it.")
                return redirect(reverse("surveys:detail", args=[survey.pk]))
        status = 400
    return render(request, "surveys/new.html", {"form": form}, status=status)


def survey_detail(request: HttpRequest, survey_id: int) -> HttpResponse:
    """A survey: its barriers in every language (Homeroom's translations marked), and sending."""
    _readers_only(request.user)
    survey = selectors.survey_for(request.user, survey_id)
    context = {
        "survey": survey,
        "languages": [Language(code) for code in survey_languages()],
        "translations": selectors.translations(survey),
        "invited": survey.invitations.count(),
        "answered": survey.invitations.filter(answer__isnull=False).count(),
        "builds": builds_surveys(request.user),
        "families": survey.audience == Audience.FAMILIES,
    }
    return render(request, "surveys/detail.html", context)


@require_POST
def survey_send(request: HttpRequest, survey_id: int) -> HttpResponse:
    """Invite the families of every enrolled student through the outbox (once per household)."""
    user = request.user
    _builders_only(user)
    try:
        sent = actions.do_send_survey_invitations(
            user, survey_id=survey_id, base_url=request.build_absolute_uri("/")
        )
    except ValidationError as error:
        for problems in error.message_dict.values():
            for problem in problems:
                messages.error(request, problem)
    else:
        words = f"{sent.invited:,} households invited; {sent.already:,} were invited before."
        for reason, n in sorted(sent.not_sent.items()):
            words += f" Not sent to {n:,}: {reason}"
        messages.success(request, words)
    return redirect(reverse("surveys:detail", args=[survey_id]))


def survey_results(request: HttpRequest, survey_id: int) -> HttpResponse:
    """The answers rolled up to barriers by school; cells under 10 say "fewer than 10"."""
    _readers_only(request.user)
    survey = selectors.survey_for(request.user, survey_id)
    context = {
        "survey": survey,
        "rollup": selectors.rollup(request.user, survey),
        "small": selectors.SMALL_CELL,
    }
    return render(request, "surveys/results.html", context)


def household_answers(request: HttpRequest, student_id: int) -> HttpResponse:
    """A student's household's answers, for the team managing the student's open case."""
    user = request.user
    try:
        with transaction.atomic():
            access, answers = selectors.household_answers(user, student_id)
            do_log_student_access(
                user=user,
                student_id=student_id,
                subject="household survey answers",
                access_reason=access.grant,
                details={"answers": len(answers)},
            )
    except NotCaseTeam:
        raise PermissionDenied(
            "A household's answers are for the team managing the student's open case."
        ) from None
    return render(
        request, "surveys/household.html", {"student": access.student, "answers": answers}
    )


def _family_page(request, template: str, language: str, status: int = 200, **context):
    words = page_words(language)
    context |= {
        "words": words,
        "language": language_of(language),
        "rtl": is_right_to_left(language_of(language)),
    }
    return render(request, f"surveys/family_{template}.html", context, status=status)


@login_not_required
def survey_answer(request: HttpRequest, token: str) -> HttpResponse:
    """The family's page: the survey in their language; one answer per link."""
    try:
        invitation = selectors.invitation_for_token(token)
    except selectors.LinkNotFound:
        return render(request, "surveys/family_bad_link.html", status=404)
    requested = request.POST.get("language") or request.GET.get("lang") or ""
    language = requested if requested in survey_languages() else invitation.language
    survey = invitation.survey
    if selectors.is_closed(invitation):
        return _family_page(request, "message", language, status=410, key="closed")
    if hasattr(invitation, "answer"):
        return _family_page(request, "message", language, key="already")
    error = False
    chosen: set[str] = set()
    if request.method == "POST":
        chosen = set(request.POST.getlist("barrier"))
        try:
            actions.do_answer_survey(
                token=token,
                barrier_ids=[int(pk) for pk in chosen if pk.isdigit()],
                none_of_these=request.POST.get("none") == "1",
                language=language,
            )
        except actions.LinkClosed:
            return _family_page(request, "message", language, status=410, key="closed")
        except actions.AlreadyAnswered:
            return _family_page(request, "message", language, key="already")
        except ValidationError:
            error = True
        else:
            return _family_page(request, "message", language, key="thanks")
    barriers = [
        (b.pk, barrier_label(key=b.key, name=b.name, language=language).text)
        for b in survey.barriers.order_by("name")
    ]
    others = [
        (code, page_words(code)["language_name"]) for code in survey_languages() if code != language
    ]
    return _family_page(
        request,
        "form",
        language,
        status=400 if error else 200,
        survey=survey,
        barriers=barriers,
        chosen=chosen,
        error=error,
        question=page_words(language)[f"question_{survey.audience}"],
        intro=page_words(language)["intro"].replace("{district}", survey.district.name),
        others=others,
    )
