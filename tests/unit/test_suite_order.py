"""The suite's own order (tests/conftest.py): tests marked `slow` are collected first, so
that the workers of scripts/test start the long scenarios at once."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_slow_tests_are_collected_first(tmp_path: Path) -> None:
    # The suite's conftest over a tiny tree of its own: collecting the real modules would
    # import half the product for nothing.
    shutil.copy(ROOT / "tests" / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    slow: slow\n")
    (tmp_path / "test_a_fast.py").write_text(
        "def test_one():\n    pass\n\n\ndef test_two():\n    pass\n"
    )
    (tmp_path / "test_b_slow.py").write_text(
        "import pytest\n\npytestmark = pytest.mark.slow\n\n\ndef test_long():\n    pass\n"
    )
    (tmp_path / "test_c_mixed.py").write_text(
        "import pytest\n\n\ndef test_quick():\n    pass\n\n\n"
        "@pytest.mark.slow\ndef test_lengthy():\n    pass\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q"],
        cwd=tmp_path,
        # Without the installed plugins (schemathesis, hypothesis, ...): only the conftest.
        env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    order = [line for line in done.stdout.splitlines() if "::" in line]
    assert order == [
        "test_b_slow.py::test_long",
        "test_c_mixed.py::test_lengthy",
        "test_a_fast.py::test_one",
        "test_a_fast.py::test_two",
        "test_c_mixed.py::test_quick",
    ]
