from django.apps import AppConfig


class MetricsConfig(AppConfig):
    name = "homeroom.metrics"
    verbose_name = "Attendance metrics"
