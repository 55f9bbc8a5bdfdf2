"""Layers point one way: no module of the package imports a module of a higher layer.

Every module is read with `ast` (nothing is imported, so no side effect can hide an import), and
every import counts, those inside functions included: a function-level import is how a cycle
between two layers is usually hidden. Only imports under `if TYPE_CHECKING:` are left out, since
they never run.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = "petitions"
ROOT = Path(__file__).resolve().parents[2] / PACKAGE

#: Low to high. A module belongs to the layer of its longest matching entry; a package entry
#: covers its modules, except the package `petitions` itself, which covers only its __init__.
LAYERS: tuple[tuple[str, frozenset[str]], ...] = (
    (
        "foundation",
        frozenset(
            {
                "petitions",
                "petitions.settings",
                "petitions.extensions",
                "petitions.crypto",
                "petitions.sealing",
                "petitions.outbox_keys",
                "petitions.merkle",
                "petitions.receipts",
                "petitions.cache",
                "petitions.delivery",
                "petitions.rendering",
                "petitions.catalogues",
                "petitions.files",
            }
        ),
    ),
    ("models", frozenset({"petitions.models", "petitions.domain"})),
    # Request helpers that know the models and nothing above them; services and workers may
    # use them (the database outages the worker survives, dates in the signer's language).
    (
        "web helpers",
        frozenset(
            {
                "petitions.errors",
                "petitions.security",
                "petitions.i18n",
                "petitions.forms",
                "petitions.routing",
                "petitions.proxies",
                "petitions.onion",
            }
        ),
    ),
    ("services", frozenset({"petitions.services"})),
    # The emails written from templates, and the background rounds that send them.
    ("notifications and workers", frozenset({"petitions.notifications", "petitions.workers"})),
    (
        "blueprints, CLI and app",
        frozenset(
            {
                "petitions.public",
                "petitions.organiser",
                "petitions.api",
                "petitions.cli",
                "petitions.app",
            }
        ),
    ),
)

FLASK = frozenset({"flask", "flask_*", "werkzeug"})
#: Third-party packages a module must not import, directly or through a module of ours.
#: The crypto types sit under the models without Flask; the bundle is built in a worker process
#: that must not pay for Flask or SQLAlchemy.
FORBIDDEN: dict[str, frozenset[str]] = {
    "petitions.crypto": FLASK,
    # The organiser's machine opens sealed exports with no application at all.
    "petitions.sealing": FLASK | {"sqlalchemy", "alembic"},
    "petitions.outbox_keys": FLASK,
    # Receipts are checked offline, by `flask receipts verify` and by the bundle's verifier.
    "petitions.merkle": FLASK | {"sqlalchemy", "alembic"},
    "petitions.receipts": FLASK | {"sqlalchemy", "alembic"},
    "petitions.settings": FLASK,
    "petitions.cache": FLASK,
    "petitions.rendering": FLASK,
    "petitions.catalogues": FLASK,
    "petitions.files": FLASK | {"sqlalchemy", "alembic"},
    "petitions.delivery": FLASK | {"sqlalchemy", "alembic"},
}
#: The only imports allowed to point up, each with its reason.
EXCEPTIONS = {
    ("petitions", "petitions.app"): "the package's create_app() imports the factory when called, "
    "so that importing any petitions.* module costs nothing",
}


TYPE_CHECKING_TESTS = {"TYPE_CHECKING", "typing.TYPE_CHECKING"}


@dataclass(frozen=True)
class Import:
    line: int
    #: A module of the package, or the top-level name of another package.
    target: str


def _names_under_type_checking(tree: ast.AST) -> set[int]:
    """Return the ids of the nodes inside `if TYPE_CHECKING:` blocks."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) in TYPE_CHECKING_TESTS:
            for inner in node.body:
                skipped.update(id(child) for child in ast.walk(inner))
    return skipped


def _package_of(module: str, is_package: bool) -> str:
    return module if is_package else module.rpartition(".")[0]


def _resolve(name: str, modules: set[str]) -> str:
    """Name the module of ours that `name` loads, or the other package it belongs to."""
    if name != PACKAGE and not name.startswith(PACKAGE + "."):
        return name.partition(".")[0]
    while name not in modules and "." in name:
        name = name.rpartition(".")[0]
    return name


def imports_of(
    module: str, source: str, modules: set[str], is_package: bool = False
) -> list[Import]:
    """Return every import a module's source makes, resolved to modules of the package."""
    tree = ast.parse(source)
    skipped = _names_under_type_checking(tree)
    found: list[Import] = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [Import(node.lineno, _resolve(alias.name, modules)) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = _package_of(module, is_package).split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                target = submodule if submodule in modules else base
                found.append(Import(node.lineno, _resolve(target, modules)))
    return sorted(found, key=lambda item: item.line)


def _entry_of(module: str, entries: set[str]) -> str | None:
    matches = [
        entry
        for entry in entries
        if module == entry or (entry != PACKAGE and module.startswith(entry + "."))
    ]
    return max(matches, key=len, default=None)


def layer_of(module: str) -> int | None:
    """Return the index of a module's layer in LAYERS, or None if it has none."""
    best = _entry_of(module, {entry for _name, entries in LAYERS for entry in entries})
    for index, (_name, entries) in enumerate(LAYERS):
        if best in entries:
            return index
    return None


def forbidden_for(module: str) -> frozenset[str]:
    """Return the other packages a module may not import."""
    entry = _entry_of(module, set(FORBIDDEN))
    return FORBIDDEN[entry] if entry else frozenset()


def _is_forbidden(name: str, forbidden: frozenset[str]) -> bool:
    return any(
        name == rule or (rule.endswith("*") and name.startswith(rule[:-1])) for rule in forbidden
    )


def violations(sources: dict[str, str], packages: frozenset[str] = frozenset()) -> list[str]:
    """Check modules given as {name: source}; return one line per broken rule."""
    modules = set(sources)
    found: list[str] = []
    for module, source in sorted(sources.items()):
        layer = layer_of(module)
        if layer is None:
            found.append(f"{module} has no layer: add it to LAYERS in tests/unit/test_layers.py")
            continue
        forbidden = forbidden_for(module)
        for item in imports_of(module, source, modules, module in packages):
            where = f"{module}:{item.line}"
            if item.target not in modules:
                if _is_forbidden(item.target, forbidden):
                    found.append(f"{where} imports {item.target}, which it must do without")
                continue
            if not forbidden <= forbidden_for(item.target):
                found.append(
                    f"{where} imports {item.target}, which may use what {module} must do without"
                )
            target_layer = layer_of(item.target)
            upward = target_layer is not None and target_layer > layer
            if upward and (module, item.target) not in EXCEPTIONS:
                found.append(
                    f"{where} ({LAYERS[layer][0]}) imports {item.target} "
                    f"({LAYERS[target_layer][0]}), a higher layer"
                )
    return found


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_sources() -> tuple[dict[str, str], frozenset[str]]:
    """Read every module of the package: ({name: source}, names of the packages)."""
    paths = sorted(ROOT.rglob("*.py"))
    sources = {_module_name(path): path.read_text(encoding="utf-8") for path in paths}
    packages = frozenset(_module_name(path) for path in paths if path.name == "__init__.py")
    return sources, packages


def test_no_module_imports_a_higher_layer_or_what_it_must_do_without():
    sources, packages = package_sources()
    assert len(sources) > 40, "the package's modules were not found"
    assert violations(sources, packages) == []


def test_every_exception_is_still_needed():
    sources, packages = package_sources()
    for importer, target in EXCEPTIONS:
        made = imports_of(importer, sources[importer], set(sources), importer in packages)
        assert target in {item.target for item in made}, f"{importer} no longer imports {target}"


# The checker itself, on made-up modules: each rule must catch what it is there to catch.

BASE = {
    "petitions.extensions": "from flask_sqlalchemy import SQLAlchemy\n",
    "petitions.settings": "import sqlalchemy\n",
    "petitions.crypto": "import hmac\nfrom sqlalchemy.types import TypeDecorator\n",
    "petitions.services": "",
    "petitions.services.privacy": "from flask import current_app\n",
    "petitions.services.signing": "from petitions.models import Signature\n",
    "petitions.i18n": "from petitions.models import LANGUAGES\n",
    "petitions.delivery": "",
    "petitions.delivery.model": "import dataclasses\n",
    "petitions.models": "from petitions.crypto import EncryptedText\nimport petitions.extensions\n",
    "petitions.public": "",
    "petitions.public.views": "from petitions.services import signing\n",
}
PACKAGES = frozenset({"petitions.services", "petitions.delivery", "petitions.public"})


def test_the_checker_passes_modules_that_point_down():
    assert violations(BASE, PACKAGES) == []


def test_the_checker_catches_the_models_importing_a_service_and_i18n_inside_a_function():
    models = (
        "from petitions.services.privacy import keyring\n"
        "\n"
        "def _named_state(state):\n"
        "    from petitions.i18n import STATE_NAMES\n"
        "    return STATE_NAMES[state]\n"
    )
    assert violations({**BASE, "petitions.models": models}, PACKAGES) == [
        "petitions.models:1 (models) imports petitions.services.privacy (services), a higher layer",
        "petitions.models:4 (models) imports petitions.i18n (web helpers), a higher layer",
    ]


def test_the_checker_resolves_from_package_import_module_and_relative_imports():
    delivery = "from petitions import models\n"
    service = "from .. import public\nfrom ..public import views\n"
    found = violations(
        {**BASE, "petitions.delivery.model": delivery, "petitions.services.signing": service},
        PACKAGES,
    )
    assert found == [
        "petitions.delivery.model:1 imports petitions.models, which may use what "
        "petitions.delivery.model must do without",
        "petitions.delivery.model:1 (foundation) imports petitions.models (models), a higher layer",
        "petitions.services.signing:1 (services) imports petitions.public (blueprints, CLI and "
        "app), a higher layer",
        "petitions.services.signing:2 (services) imports petitions.public.views (blueprints, CLI "
        "and app), a higher layer",
    ]


def test_the_checker_keeps_flask_and_sqlalchemy_out_of_what_must_do_without():
    found = violations(
        {
            **BASE,
            "petitions.crypto": "def key():\n    from flask import current_app\n",
            "petitions.delivery.model": "import sqlalchemy.orm\nfrom flask_babel import _\n",
            "petitions.delivery.bundle": "from petitions.settings import Settings\n",
        },
        PACKAGES,
    )
    assert found == [
        "petitions.crypto:2 imports flask, which it must do without",
        "petitions.delivery.bundle:1 imports petitions.settings, which may use what "
        "petitions.delivery.bundle must do without",
        "petitions.delivery.model:1 imports sqlalchemy, which it must do without",
        "petitions.delivery.model:2 imports flask_babel, which it must do without",
    ]


def test_the_checker_ignores_imports_for_type_checkers_only():
    models = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from petitions.services.signing import SignOutcome\n"
    )
    assert violations({**BASE, "petitions.models": models}, PACKAGES) == []


@pytest.mark.parametrize("name", ["petitions.newthing", "petitions.helpers.extra"])
def test_the_checker_wants_every_new_module_given_a_layer(name):
    assert violations({**BASE, name: ""}, PACKAGES) == [
        f"{name} has no layer: add it to LAYERS in tests/unit/test_layers.py"
    ]
