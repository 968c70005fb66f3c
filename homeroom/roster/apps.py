from django.apps import AppConfig


class RosterConfig(AppConfig):
    name = "homeroom.roster"
    verbose_name = "Students, guardians and enrollments"
