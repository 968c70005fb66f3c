from django.apps import AppConfig


class ImpactConfig(AppConfig):
    name = "homeroom.impact"
    label = "impact"
    verbose_name = "Impact of interventions"
