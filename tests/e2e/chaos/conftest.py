"""Fixtures of the chaos tests; the helpers live in `harness.py` (`chaos_test_harness`)."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from testkit.scratch_db import create_postgres_from_template, drop_scratch_postgres


def load_harness() -> object:
    name = "chaos_test_harness"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("harness.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


load_harness()


@pytest.fixture
async def scratch_pg(migrated_pg_template: str) -> AsyncIterator[str]:
    """A migrated PostgreSQL database of the test's own."""
    url = await asyncio.to_thread(
        create_postgres_from_template, migrated_pg_template, None, "hotline_chaos"
    )
    try:
        yield url
    finally:
        await asyncio.to_thread(drop_scratch_postgres, url)
