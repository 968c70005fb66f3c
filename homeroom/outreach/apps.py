from django.apps import AppConfig


class OutreachConfig(AppConfig):
    name = "homeroom.outreach"
    label = "outreach"
    verbose_name = "Family outreach"
