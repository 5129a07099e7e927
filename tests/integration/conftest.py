"""Helpers the integration folders share, loaded by path (tests are not a package)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path


def load_by_path(name: str, path: Path) -> None:
    """Make the module at `path` importable as `name`."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)


# The cuttable TCP proxy: a PostgreSQL or Redis outage on demand.
load_by_path("cluster_test_support", Path(__file__).parent / "cluster" / "support.py")
