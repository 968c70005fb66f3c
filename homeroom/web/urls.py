"""Routes of the staff web interface."""

from django.urls import path

from homeroom.web import views

app_name = "web"
urlpatterns = [
    path("", views.home, name="home"),
]
