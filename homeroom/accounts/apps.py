from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "homeroom.accounts"
    verbose_name = "Staff accounts, roles and scopes"
