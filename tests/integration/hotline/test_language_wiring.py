"""HOTLINE_LOCALE reaches what speaks to people outside the pages: `hotline serve` builds
supervision (notices, acknowledgement pages, the report) in that language."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from hotline.runtime import HotlineService
from hotline.settings import Settings


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
async def test_the_notices_speak_hotline_locale(tmp_path: Path, locale: str) -> None:
    settings = Settings(
        ami_user="hotline",
        ami_secret=SecretStr("s"),
        db_url=f"sqlite:///{tmp_path / 'h.db'}",
        journal_dir=tmp_path / "journal",
        locale=locale,
    )
    service = HotlineService.build(settings)
    try:
        assert service.path.supervision.service.language == locale
    finally:
        await service.stop()
