"""Placeholder, replaced by the web interface."""

from django.http import HttpResponse


def home(request):
    return HttpResponse("Homeroom")
