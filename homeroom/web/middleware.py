"""Request middleware for the staff web interface."""

import zoneinfo

from django.conf import settings
from django.utils import timezone, translation
from django.utils.cache import add_never_cache_headers, patch_vary_headers

from homeroom.access.cases import CaseNotFound
from homeroom.access.gatekeeper import StudentNotFound
from homeroom.core.actions import do_log_denied_student
from homeroom.interventions.models import Case


class DistrictTimezoneMiddleware:
    """Shows times in the signed-in user's district timezone."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        district = getattr(request.user, "district", None)
        if district is not None:
            timezone.activate(zoneinfo.ZoneInfo(district.timezone))
        else:
            timezone.deactivate()
        return self.get_response(request)


class UserLanguageMiddleware:
    """Shows the interface in the language the signed-in user chose on their account.

    Until they choose (and on the sign-in page), the first of the browser's languages
    Homeroom has decides, else English. The language is set for this request only, so
    nothing rendered after it (a test, the next request on this thread) inherits it.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        chosen = getattr(request.user, "language", "") if request.user.is_authenticated else ""
        if chosen not in dict(settings.LANGUAGES):
            chosen = translation.get_language_from_request(request)
        with translation.override(chosen):
            request.LANGUAGE_CODE = translation.get_language()
            response = self.get_response(request)
        patch_vary_headers(response, ("Accept-Language",))
        response.headers.setdefault("Content-Language", request.LANGUAGE_CODE)
        return response


class NoStoreMiddleware:
    """Tells browsers and proxies to keep no copy of any page Homeroom renders.

    Pages show student records; a shared computer's back button or a caching proxy must not
    show them to the next person. Static files (served by WhiteNoise before this) are cached
    as usual; they hold no student data.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        add_never_cache_headers(response)
        return response


class DeniedStudentAuditMiddleware:
    """Writes an audit entry for every refused attempt to open a student's record or case.

    The refusal (`StudentNotFound`, `CaseNotFound`: a 404) may come from inside an action's
    transaction, which it rolls back; the entry is written here, after, so it stays.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, StudentNotFound | CaseNotFound):
            return None
        if not request.user.is_authenticated:
            return None
        arguments = request.resolver_match.kwargs if request.resolver_match else {}
        student_id = arguments.get("student_id")
        if "case_id" in arguments:  # whose case it is, for the administrator reading the trail
            cases = Case.objects.filter(pk=arguments["case_id"])
            student_id = cases.values_list("student_id", flat=True).first()
        do_log_denied_student(
            user=request.user,
            student_id=student_id,
            subject=request.path[:100],
            details={"case_id": arguments["case_id"]} if "case_id" in arguments else None,
        )
        return None
