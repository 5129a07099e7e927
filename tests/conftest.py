"""Suite-wide policy (owned by the lead; areas keep their fixtures in their own folders).

Under `scripts/test` (HOTLINE_REQUIRE_SERVICES=1) a test that skips because PostgreSQL,
Redis or Chromium is missing is reported as a failure: CI must never go green by
skipping the real peers.
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest

_SERVICE_MARKS = ("postgres", "redis", "browser")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, None, None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if (
        report.skipped
        and os.environ.get("HOTLINE_REQUIRE_SERVICES") == "1"
        and any(item.get_closest_marker(m) for m in _SERVICE_MARKS)
        and not hasattr(report, "wasxfail")
    ):
        report.outcome = "failed"
        report.longrepr = (
            f"required service unavailable (skip turned into failure): {report.longrepr}"
        )
