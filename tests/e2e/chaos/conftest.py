"""Fixtures of the chaos tests; the helpers live in `harness.py` (`chaos_test_harness`)."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from testkit.scratch_db import create_scratch_postgres, drop_scratch_postgres, postgres_available


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
async def scratch_pg() -> AsyncIterator[str]:
    if not postgres_available():
        pytest.skip("PostgreSQL not reachable")
    url = await asyncio.to_thread(create_scratch_postgres, None, "hotline_chaos")
    try:
        yield url
    finally:
        await asyncio.to_thread(drop_scratch_postgres, url)
