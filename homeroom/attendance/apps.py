from django.apps import AppConfig


class AttendanceConfig(AppConfig):
    name = "homeroom.attendance"
    verbose_name = "Attendance codes and events"
