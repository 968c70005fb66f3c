from django.apps import AppConfig


class StewardshipConfig(AppConfig):
    name = "homeroom.stewardship"
    label = "stewardship"
    verbose_name = "Data stewardship"
