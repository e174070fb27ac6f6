"""The lock files (requirements/*.lock, `make lock`) hold exactly pyproject.toml's pins:
a dependency changed in one place and not the other fails here, not on a fresh machine.
The production lock carries neither the embedded servers nor the test tools."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

BACKEND = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((BACKEND / "pyproject.toml").read_text())["project"]
PIN = re.compile(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^\s;]+)")


def name(raw: str) -> str:
    return re.sub(r"[-_.]+", "-", raw).lower()


def pins(requirements: list[str]) -> dict[str, str]:
    found = {}
    for line in requirements:
        match = PIN.match(line)
        assert match, f"not an exact pin: {line}"
        found[name(match.group(1))] = match.group(2)
    return found


def locked(file: str) -> dict[str, str]:
    text = (BACKEND / "requirements" / file).read_text()
    return {
        name(m.group(1)): m.group(2) for m in re.finditer(r"^([A-Za-z0-9_.-]+)==(\S+)", text, re.M)
    }


RUNTIME = pins(PROJECT["dependencies"])
LOCAL = pins(PROJECT["optional-dependencies"]["local"])
DEV = pins(PROJECT["optional-dependencies"]["dev"])


def test_every_lock_holds_its_direct_pins_at_their_versions():
    for file, wanted in (
        ("runtime.lock", RUNTIME),
        ("local.lock", RUNTIME | LOCAL),
        ("dev.lock", RUNTIME | LOCAL | DEV),
    ):
        have = locked(file)
        assert {n: have.get(n) for n in wanted} == wanted, file


def test_the_production_lock_has_no_embedded_servers_or_test_tools():
    production = locked("runtime.lock")
    assert not (set(LOCAL) | set(DEV)) & set(production)


def test_every_locked_dependency_carries_a_hash():
    for file in ("runtime.lock", "local.lock", "dev.lock"):
        lines = (BACKEND / "requirements" / file).read_text().splitlines()
        for n, line in enumerate(lines):
            if re.match(r"[A-Za-z0-9_.-]+==", line):
                assert lines[n + 1].strip().startswith("--hash=sha256:"), (file, line)
