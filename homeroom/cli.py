"""The installed `homeroom` command: Django's management commands under one name.

`homeroom`, `homeroom help` and `homeroom --help` list Homeroom's own commands first,
grouped by what they are for, each with its one-line description (the first sentence of
the command's own `help`, so the words live with the command); Django's built-in commands
follow under their own heading. `homeroom help COMMAND` is Django's, as before.
"""

import os
import sys
import textwrap
from pathlib import Path

# Homeroom's apps that have commands, in the order a newcomer meets them, and the heading
# each is listed under; an app not named here is listed under its own verbose name.
GROUPS = {
    "homeroom.demo": "Try Homeroom",
    "homeroom.pipeline": "Import data and run the nightly work",
    "homeroom.metrics": "Attendance figures",
    "homeroom.warnings": "Early warning",
}
ASKS_FOR_HELP = ([], ["help"], ["--help"], ["-h"])


def _first_sentence(text: str) -> str:
    return " ".join(text.split()).split(". ", 1)[0].rstrip(".")


def _help_of(app: str, name: str) -> str:
    """A command's `help`, read from its source: importing every command (and pandas,
    scikit-learn, ... with them) would make the list take seconds."""
    import ast
    from importlib.util import find_spec

    spec = find_spec(f"{app}.management.commands.{name}")
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == "Command":
            for item in node.body:
                targets = getattr(item, "targets", [])
                if any(getattr(t, "id", "") == "help" for t in targets):
                    return ast.literal_eval(item.value)
    return ""


def command_list() -> str:
    """The commands, Homeroom's grouped and described first, then Django's."""
    from django.apps import apps
    from django.core.management import get_commands

    ours: dict[str, list[tuple[str, str]]] = {}
    theirs = []
    for name, app in sorted(get_commands().items()):
        if not app.startswith("homeroom."):
            theirs.append(name)
            continue
        heading = GROUPS.get(app) or apps.get_app_config(app.split(".")[-1]).verbose_name
        ours.setdefault(heading, []).append((name, _first_sentence(_help_of(app, name))))
    order = list(GROUPS.values())
    lines = ["Usage: homeroom COMMAND [options]   (homeroom help COMMAND for its options)", ""]
    for heading in sorted(ours, key=lambda h: (order.index(h) if h in order else len(order), h)):
        lines.append(f"{heading}:")
        for name, description in ours[heading]:
            lines.extend(
                textwrap.wrap(
                    f"{name:<20} {description}",
                    width=88,
                    initial_indent="  ",
                    subsequent_indent=" " * 23,
                )
            )
        lines.append("")
    lines.append("Django's commands (database, accounts, static files):")
    lines.extend(
        textwrap.wrap(", ".join(theirs), width=88, initial_indent="  ", subsequent_indent="  ")
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Run a Homeroom subcommand (`homeroom demo`, `homeroom generate`, ...)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "homeroom.settings")
    import django
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    args = sys.argv[1:] if argv is None else argv
    try:
        if args in ASKS_FOR_HELP:
            django.setup()
            sys.stdout.write(command_list())
            return
        execute_from_command_line(["homeroom", *args])
    except ImproperlyConfigured as error:
        sys.exit(f"homeroom: configuration error: {error}")


if __name__ == "__main__":
    main()
