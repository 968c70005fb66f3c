from django.apps import AppConfig


class InterventionsConfig(AppConfig):
    name = "homeroom.interventions"
    label = "interventions"
    verbose_name = "Interventions and case management"
