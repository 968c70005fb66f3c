"""The installed `homeroom` command: Django's management commands under one name."""

import os
import sys


def main(argv: list[str] | None = None) -> None:
    """Run a Homeroom subcommand (`homeroom demo`, `homeroom generate`, ...)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "homeroom.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    args = sys.argv[1:] if argv is None else argv
    try:
        execute_from_command_line(["homeroom", *args])
    except ImproperlyConfigured as error:
        sys.exit(f"homeroom: configuration error: {error}")


if __name__ == "__main__":
    main()
