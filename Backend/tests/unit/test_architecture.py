"""The architecture, checked on every test run: the import contracts in pyproject.toml.

Entry points (api, ussd, worker, cli) are imported by nothing but the app factory that
mounts them; they reach the database through services, never through repositories; the
domain imports nothing of ours; sandboxes are imported only by development wiring; and
app's packages import each other without cycles. The second test holds the contracts
themselves to account: each one catches the breach it is written against.
"""

from __future__ import annotations

import ast
import importlib
import sys
from copy import deepcopy
from functools import cache
from pathlib import Path

import grimp
import pytest
from importlinter import cli
from importlinter.application import use_cases
from importlinter.contracts.acyclic_siblings import AcyclicSiblingsContract
from importlinter.contracts.forbidden import ForbiddenContract
from importlinter.contracts.independence import IndependenceContract
from importlinter.contracts.layers import LayersContract
from importlinter.contracts.protected import ProtectedContract

BACKEND = Path(__file__).resolve().parents[2]
PYPROJECT = str(BACKEND / "pyproject.toml")
CONTRACT_TYPES = {
    kind.type_name: kind
    for kind in (
        AcyclicSiblingsContract,
        ForbiddenContract,
        IndependenceContract,
        LayersContract,
        ProtectedContract,
    )
}


@cache
def _built_graph() -> grimp.ImportGraph:
    return grimp.build_graph("app", cache_dir=None)


def _app_graph() -> grimp.ImportGraph:
    """app's import graph, built once per run; a copy each time, as a test adds to it."""
    return deepcopy(_built_graph())


def _broken_contracts(graph: grimp.ImportGraph) -> set[str]:
    options = use_cases.read_user_options(config_filename=PYPROJECT)
    broken = set()
    for contract_options in options.contracts_options:
        contract = CONTRACT_TYPES[contract_options["type"]](
            name=contract_options["name"],
            session_options=options.session_options,
            contract_options=contract_options,
        )
        if not contract.check(deepcopy(graph), verbose=False).kept:
            broken.add(contract.name)
    return broken


def test_the_code_keeps_every_import_contract(monkeypatch: pytest.MonkeyPatch):
    # lint-imports itself, as `make test` would run it; it prints the offending imports.
    monkeypatch.chdir(BACKEND)
    monkeypatch.setattr(sys, "path", list(sys.path))  # it prepends the working directory
    assert cli.lint_imports(config_filename=PYPROJECT, no_cache=True, no_logo=True) == 0


BREACHES = [
    ("app.domain.money", "app.errors", "The domain imports nothing of ours"),
    (
        "app.services.ledger",
        "app.api.errors",
        "Nothing imports the REST API, the worker or a command-line program",
    ),
    (
        "app.services.ledger",
        "app.worker.loops",
        "Nothing imports the REST API, the worker or a command-line program",
    ),
    ("app.api.health", "app.ussd.texts", "USSD is imported only by the app factory that mounts it"),
    (
        "app.ussd.hop",
        "app.db.repositories.ledger",
        "Entry points reach the database through services, never through repositories",
    ),
    (
        "app.api.v1.wallet",
        "app.db.repositories.ledger",
        "Entry points reach the database through services, never through repositories",
    ),
    (
        "app.cli.reconcile",
        "app.db.repositories.ledger",
        "Entry points reach the database through services, never through repositories",
    ),
    ("app.config", "app.sandboxes.daraja", "Sandboxes are imported only by development wiring"),
    ("app.api.app", "app.sandboxes.at_sms", "Sandboxes are imported only by development wiring"),
    (
        "app.db.pool",
        "app.services.ledger",
        "No import cycles between app's packages, at any depth",
    ),
]


@pytest.mark.parametrize(("importer", "imported", "contract"), BREACHES)
def test_each_contract_catches_its_breach(importer: str, imported: str, contract: str):
    graph = _app_graph()
    assert contract not in _broken_contracts(graph)
    graph.add_import(importer=importer, imported=imported, line_number=1, line_contents="probe")
    assert contract in _broken_contracts(graph)


def test_no_module_of_app_imports_itself_back():
    # Finer than the packages contract, which skips ussd/'s children: module by module.
    graph = _built_graph()
    cycles = sorted(
        (module, imported)
        for module in graph.modules
        for imported in graph.find_modules_directly_imported_by(module)
        if graph.chain_exists(importer=imported, imported=module)
    )
    assert cycles == []


ENTRY_POINTS = ("app/api", "app/ussd", "app/worker", "app/cli")


def test_no_entry_point_takes_a_repositorys_type_through_another_module():
    # The repositories contract sees modules, not names: `from app.services.x import Row`
    # where Row is defined in app/db/repositories would pass it. Records live in
    # app/domain/records; an entry point importing a repository's own name fails here.
    taken = []
    for base in ENTRY_POINTS:
        for path in sorted((BACKEND / base).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if not isinstance(node, ast.ImportFrom) or not (node.module or "").startswith(
                    "app."
                ):
                    continue
                module = importlib.import_module(node.module)
                for alias in node.names:
                    home = getattr(getattr(module, alias.name, None), "__module__", "") or ""
                    if home.startswith("app.db.repositories"):
                        taken.append(f"{path.relative_to(BACKEND)}: {alias.name} ({home})")
    assert taken == []
