"""Routes of the staff web interface."""

from django.urls import path

from homeroom.web import audit, dashboards, impact, languages, views

app_name = "web"
urlpatterns = [
    path("", dashboards.home, name="home"),
    path("schools/<int:school_id>/", dashboards.school_dashboard, name="school_dashboard"),
    path(
        "schools/<int:school_id>/grades/<str:grade>/",
        dashboards.grade_dashboard,
        name="grade_dashboard",
    ),
    path("groups/<slug:group>/", dashboards.group_dashboard, name="group_dashboard"),
    path(
        "schools/<int:school_id>/groups/<slug:group>/",
        dashboards.group_dashboard,
        name="school_group_dashboard",
    ),
    path("login/", views.login, name="login"),
    path("logout/", views.logout, name="logout"),
    path("students/", views.student_list, name="students"),
    path("students/<int:student_id>/", views.student_page, name="student"),
    path("warnings/", views.warning_list, name="warnings"),
    path("imports/", views.import_list, name="imports"),
    path("imports/new/", views.import_new, name="import_new"),
    path("imports/new/<slug:token>/", views.import_report, name="import_report"),
    path("imports/new/<slug:token>/confirm/", views.import_confirm, name="import_confirm"),
    path(
        "imports/new/<slug:token>/allow-deletes/",
        views.import_allow_deletes,
        name="import_allow_deletes",
    ),
    path("imports/<int:run_id>/", views.import_run, name="import_run"),
    path("audit/", audit.audit_page, name="audit"),
    path("audit/unlock/", audit.unlock_sign_in, name="unlock_sign_in"),
    path("impact/", impact.impact_page, name="impact"),
    path("language/", languages.choose_language, name="language"),
]
