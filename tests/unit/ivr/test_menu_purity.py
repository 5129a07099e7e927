"""ivr.menu is the pure core: standard library only (ARCHITECTURE.md rule 1)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

MENU = Path(__file__).resolve().parents[3] / "ivr" / "menu.py"


def test_menu_imports_only_the_standard_library():
    tree = ast.parse(MENU.read_text(encoding="utf-8"))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
    assert imported, "parsed no imports at all"
    assert imported - {"__future__"} <= set(sys.stdlib_module_names), imported
