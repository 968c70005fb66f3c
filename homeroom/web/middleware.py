"""Request middleware for the staff web interface."""

import zoneinfo

from django.utils import timezone
from django.utils.cache import add_never_cache_headers

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
