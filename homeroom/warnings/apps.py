from django.apps import AppConfig


class WarningsConfig(AppConfig):
    name = "homeroom.warnings"
    label = "warnings"
    verbose_name = "Early warning"
