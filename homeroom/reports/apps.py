from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "homeroom.reports"
    label = "reports"
    verbose_name = "Public reports and resource allocation"
