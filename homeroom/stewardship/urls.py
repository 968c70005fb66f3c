"""Routes of the coding audit."""

from django.urls import path

from homeroom.stewardship import views

app_name = "stewardship"
urlpatterns = [
    path("stewardship/coding-audit/", views.coding_audit, name="coding-audit"),
    path("stewardship/coding-audit/rows/", views.finding_rows, name="rows"),
]
