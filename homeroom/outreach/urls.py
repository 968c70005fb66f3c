"""Routes of family outreach: the message page and the SMS provider's webhooks."""

from django.urls import path

from homeroom.outreach import views

app_name = "outreach"
urlpatterns = [
    path("students/<int:student_id>/message/", views.family_message, name="family-message"),
    path("outreach/templates/", views.templates_list, name="templates"),
    path("outreach/templates/edit/", views.template_edit, name="template-edit"),
    path("outreach/settings/", views.outreach_settings, name="settings"),
    path("outreach/letters/", views.letters_review, name="letters"),
    path(
        "outreach/letters/<int:batch_id>/<str:part>/",
        views.letter_batch_file,
        name="letter-batch-file",
    ),
    path("outreach/sms/status/", views.sms_status, name="sms-status"),
    path("outreach/sms/inbound/", views.sms_inbound, name="sms-inbound"),
    path("outreach/email/inbound/", views.email_inbound, name="email-inbound"),
    path("outreach/unmatched/", views.unmatched, name="unmatched"),
    path("outreach/unknown/", views.sends_to_check, name="unknown"),
]
