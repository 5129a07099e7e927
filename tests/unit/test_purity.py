"""The pure core imports only the standard library and itself (ARCHITECTURE.md rule 1).

Every module of every top-level `*/domain` package (sim/'s included), of `calls/`, and
`ivr/menu.py` is parsed with `ast`; each import (relative ones resolved against the
module's package, imports inside functions included) must name a standard-library module
or one of the first-party modules allowed for that package. Every first-party module
allowed here is itself checked by the same rule, so purity holds transitively.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SIM = ROOT / "sim"  # the development distribution: its packages are top-level there

# What a pure package may import besides the standard library and itself. Every module
# named here is itself one of the pure modules checked below.
ALSO_ALLOWED: dict[str, tuple[str, ...]] = {
    "routing.domain": ("calls", "routing.errors", "routing.records"),
    "fallback.domain": ("fallback.errors", "fallback.records"),
    "supervision.domain": ("calls", "routing.domain", "routing.records"),
}
# Leaf modules the domain packages share with their adapters: values and errors only.
PURE_LEAVES = ("routing.errors", "routing.records", "fallback.errors", "fallback.records")


@dataclass(frozen=True)
class PureModule:
    path: Path
    name: str  # dotted module name, e.g. "routing.domain.levels"
    allowed: tuple[str, ...]  # first-party modules (and their submodules) it may import

    @property
    def package(self) -> str:
        return self.name if self.path.name == "__init__.py" else self.name.rpartition(".")[0]


def _module_name(path: Path) -> str:
    base = SIM if path.is_relative_to(SIM) else ROOT
    parts = path.relative_to(base).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package_modules(package_dir: Path, allowed: tuple[str, ...]) -> list[PureModule]:
    return [
        PureModule(path, _module_name(path), allowed) for path in sorted(package_dir.rglob("*.py"))
    ]


def pure_modules() -> list[PureModule]:
    modules: list[PureModule] = []
    for domain in sorted([*ROOT.glob("*/domain"), *SIM.glob("*/domain")]):
        if (domain / "__init__.py").is_file():
            name = _module_name(domain / "__init__.py")
            modules += _package_modules(domain, (name, *ALSO_ALLOWED.get(name, ())))
    modules += _package_modules(ROOT / "calls", ("calls",))
    modules.append(
        PureModule(ROOT / "ivr" / "menu.py", "ivr.menu", ("ivr.menu", "routing.records"))
    )
    for leaf in PURE_LEAVES:
        modules.append(PureModule(ROOT / (leaf.replace(".", "/") + ".py"), leaf, (leaf,)))
    return modules


def imported_modules(module: PureModule) -> set[str]:
    """Absolute names of every module `module` imports."""
    tree = ast.parse(module.path.read_text(encoding="utf-8"), filename=str(module.path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                names.add(node.module or "")
            else:
                base = module.package.split(".")
                base = base[: len(base) - (node.level - 1)]
                names.add(".".join([*base, node.module] if node.module else base))
    return names


def is_allowed(name: str, allowed: tuple[str, ...]) -> bool:
    top = name.partition(".")[0]
    if top == "__future__" or top in sys.stdlib_module_names:
        return True
    return any(name == prefix or name.startswith(prefix + ".") for prefix in allowed)


MODULES = pure_modules()


@pytest.mark.parametrize("module", MODULES, ids=[m.name for m in MODULES])
def test_pure_module_imports_only_the_standard_library_and_itself(module: PureModule) -> None:
    foreign = sorted(n for n in imported_modules(module) if not is_allowed(n, module.allowed))
    assert not foreign, f"{module.path.relative_to(ROOT)} imports {foreign}"


def test_every_allowed_first_party_module_is_checked_itself() -> None:
    checked = {m.name for m in MODULES}
    for module in MODULES:
        for allowed in module.allowed:
            assert any(n == allowed or n.startswith(allowed + ".") for n in checked), allowed


def test_the_table_covers_the_pure_core() -> None:
    names = {m.name for m in MODULES}
    expected = {
        "calls.events",
        "calls.record",
        "ivr.menu",
        "routing.domain.levels",
        "fallback.domain.mode",
        "supervision.domain.sla",
        "console.domain.session",
        "pbx.domain.queueing",
    }
    assert expected <= names, expected - names
    assert set(ALSO_ALLOWED) <= names


@pytest.mark.parametrize(
    ("source", "package", "allowed"),
    [
        ("import pydantic", "routing.domain", False),
        ("from fallback.service import EmergencyService", "supervision.domain", False),
        ("from routing.tickets import CallTickets", "routing.domain", False),
        ("from . import levels", "routing.domain", True),
        ("from .. import tickets", "routing.domain", False),
        ("from ..records import SiteRecord", "routing.domain", True),
        ("from calls import CallOutcome", "routing.domain", True),
        ("from datetime import datetime", "console.domain", True),
        ("def f():\n    import sqlalchemy", "fallback.domain", False),
    ],
)
def test_the_rule_itself(tmp_path: Path, source: str, package: str, allowed: bool) -> None:
    path = tmp_path / "module.py"
    path.write_text(source, encoding="utf-8")
    module = PureModule(path, f"{package}.module", (package, *ALSO_ALLOWED.get(package, ())))
    assert all(is_allowed(n, module.allowed) for n in imported_modules(module)) is allowed
