from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "homeroom.web"
    verbose_name = "Web interface"
