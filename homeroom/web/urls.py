"""Routes of the staff web interface."""

from django.urls import path

from homeroom.web import views

app_name = "web"
urlpatterns = [
    path("", views.overview, name="home"),
    path("login/", views.login, name="login"),
    path("logout/", views.logout, name="logout"),
    path("students/", views.student_list, name="students"),
    path("students/<int:student_id>/", views.student_page, name="student"),
]
