"""Request middleware for the staff web interface."""

import zoneinfo

from django.utils import timezone
from django.utils.cache import add_never_cache_headers


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
