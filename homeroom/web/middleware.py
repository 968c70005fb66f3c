"""Request middleware for the staff web interface."""

import zoneinfo

from django.utils import timezone


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
