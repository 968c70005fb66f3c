"""Top-level URL routes."""

from django.urls import include, path

urlpatterns = [
    path("", include("homeroom.web.urls")),
    path("", include("homeroom.interventions.urls")),
    path("", include("homeroom.outreach.urls")),
    path("", include("homeroom.truancy.urls")),
    path("", include("homeroom.reports.urls")),
    path("", include("homeroom.stewardship.urls")),
    path("", include("homeroom.surveys.urls")),
]
