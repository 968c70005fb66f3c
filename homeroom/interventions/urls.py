"""Routes of the case management pages."""

from django.urls import path

from homeroom.interventions import views

app_name = "interventions"
urlpatterns = [
    path("students/<int:student_id>/contact/", views.log_contact, name="log_contact"),
    path(
        "students/<int:student_id>/intervention/",
        views.start_intervention,
        name="start_intervention",
    ),
    path("students/<int:student_id>/open-case/", views.open_case, name="open_case"),
    path("students/<int:student_id>/ask-for-case/", views.refer_for_case, name="refer_for_case"),
    path("cases/<int:case_id>/", views.case_page, name="case"),
    *(
        path(
            f"cases/<int:case_id>/{action.replace('_', '-')}/",
            views.case_action,
            {"action": action},
            name=f"case_{action}",
        )
        for action in views.CASE_ACTIONS
    ),
    path("caseload/", views.caseload, name="caseload"),
    path("team-meeting/", views.team_meeting, name="team_meeting"),
    path("team-meeting/pdf/", views.team_meeting_pdf, name="team_meeting_pdf"),
    path("playbook/", views.playbook_page, name="playbook"),
    path("playbook/entry/", views.playbook_entry, name="playbook_entry"),
    path("playbook/import/", views.playbook_import, name="playbook_import"),
    path("playbook/export/", views.playbook_export, name="playbook_export"),
    path("playbook/map/", views.playbook_map, name="playbook_map"),
    path("playbook/retire/", views.retire, name="retire"),
    path("barriers/", views.barrier_list, name="barriers"),
    path("partners/", views.partner_list, name="partners"),
    path("partners/edit/", views.partner_edit, name="partner_edit"),
    path("measures/", views.measures_page, name="measures"),
    path("my-follow-through/", views.follow_through, name="follow_through"),
]
