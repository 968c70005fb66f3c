from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "homeroom.access"
    verbose_name = "Access gatekeeper"
