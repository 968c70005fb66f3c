from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "homeroom.demo"
    verbose_name = "Synthetic district and demo"
