from django.apps import AppConfig


class IngestConfig(AppConfig):
    name = "homeroom.ingest"
    verbose_name = "Imports"
