from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "homeroom.core"
    verbose_name = "District, schools and calendars"
