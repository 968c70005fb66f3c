"""Routes of needs surveys: staff pages, and the family's answer page (no account)."""

from django.urls import path

from homeroom.surveys import views

app_name = "surveys"
urlpatterns = [
    path("surveys/", views.survey_list, name="list"),
    path("surveys/new/", views.survey_new, name="new"),
    path("surveys/<int:survey_id>/", views.survey_detail, name="detail"),
    path("surveys/<int:survey_id>/send/", views.survey_send, name="send"),
    path("surveys/<int:survey_id>/results/", views.survey_results, name="results"),
    path(
        "students/<int:student_id>/survey-answers/",
        views.household_answers,
        name="household-answers",
    ),
    path("answer/<str:token>/", views.survey_answer, name="answer"),
]
