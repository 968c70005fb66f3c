"""The apps import one another one way only, as docs/architecture.md draws them.

Data flows ingest -> attendance -> metrics -> warnings -> interventions -> outreach ->
truancy -> reports -> pipeline -> web:
an app imports the apps below it, never one above. The gatekeeper (`access`) reads the
models of the apps under it, and every app's selectors read student data through it, so
access is the one app a selector may import from below or above; no module imports one
that imports it back.
"""

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2]

# Lowest first. demo and web sit on top of everything and beside each other.
LAYERS = (
    ("core",),
    ("accounts",),
    ("roster",),
    ("access",),
    ("attendance",),
    ("ingest",),
    ("metrics",),
    ("warnings",),
    ("interventions",),
    ("outreach",),
    ("truancy",),
    ("impact", "stewardship", "surveys"),
    ("reports",),
    ("pipeline",),
    ("demo", "web"),
)
RANK = {app: rank for rank, apps in enumerate(LAYERS) for app in apps}
GATEKEEPER = "access"


def code_modules() -> dict[str, Path]:
    """Every module of the apps but tests and migrations, by dotted name."""
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if "tests" in parts or "migrations" in parts or parts[1] not in RANK:
            continue
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return modules


def imported(path: Path) -> set[str]:
    """The homeroom modules a file imports (at the top or inside a function)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return {name for name in names if name.startswith("homeroom.")}


def app_of(module: str) -> str:
    return module.split(".")[1]


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = code_modules()
    return {name: imported(path) & modules.keys() for name, path in modules.items()}


def test_every_app_is_placed_in_a_layer():
    apps = {p.name for p in PACKAGE.iterdir() if (p / "apps.py").exists()}
    assert apps == set(RANK)


def test_no_app_imports_an_app_above_it(graph):
    upward = sorted(
        f"{module} imports {target}"
        for module, targets in graph.items()
        for target in targets
        if RANK[app_of(target)] > RANK[app_of(module)] and app_of(target) != GATEKEEPER
    )
    assert upward == []


def test_no_module_imports_one_that_imports_it_back(graph):
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as error:
        pytest.fail(f"import cycle: {' -> '.join(error.args[1])}")


def test_the_gatekeeper_reads_only_the_apps_under_it(graph):
    above = {
        target
        for module, targets in graph.items()
        if app_of(module) == GATEKEEPER
        for target in targets
        if RANK[app_of(target)] >= RANK[GATEKEEPER] and app_of(target) != GATEKEEPER
    }
    assert above == set()
