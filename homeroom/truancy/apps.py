from django.apps import AppConfig


class TruancyConfig(AppConfig):
    name = "homeroom.truancy"
    label = "truancy"
    verbose_name = "Truancy escalation"
