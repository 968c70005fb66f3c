from django.apps import AppConfig


class PipelineConfig(AppConfig):
    name = "homeroom.pipeline"
    label = "pipeline"
    verbose_name = "Pipeline"
