from django.apps import AppConfig


class SurveysConfig(AppConfig):
    name = "homeroom.surveys"
    label = "surveys"
    verbose_name = "Needs surveys"
