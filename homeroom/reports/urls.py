"""Routes of the reports (district roles only)."""

from django.urls import path

from homeroom.reports import views

app_name = "reports"
urlpatterns = [
    path("reports/", views.index, name="index"),
    path("reports/<slug:kind>.pdf", views.report_pdf, name="pdf"),
    path("reports/tables/<slug:kind>.csv", views.public_csv, name="table"),
    path("reports/groups/", views.groups, name="groups"),
    path("reports/allocation/", views.allocation, name="allocation"),
    path("reports/improvement/", views.improvement, name="improvement"),
    path("reports/settings/", views.settings, name="settings"),
]
