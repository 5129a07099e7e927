"""The emergency domain core imports the standard library only (plus the package's own pure
records and errors), whatever the import-linter configuration says."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import fallback.domain

ALLOWED_OWN = {"fallback.errors", "fallback.records", "fallback.domain"}


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_domain_modules_import_only_the_standard_library() -> None:
    package = Path(fallback.domain.__file__).parent
    modules = sorted(package.glob("*.py"))
    assert len(modules) >= 3
    own = [package.parent / "errors.py", package.parent / "records.py"]
    for path in modules + own:
        for name in imports_of(path):
            top = name.split(".")[0]
            if top in sys.stdlib_module_names or top == "__future__":
                continue
            assert any(name == a or name.startswith(a + ".") for a in ALLOWED_OWN), (
                f"{path.name} imports {name}"
            )
