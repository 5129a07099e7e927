"""What sox says about an audio file: tests check recordings and prompts with it."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class SoxInfo:
    rate: int
    channels: int
    seconds: float


def sox_available() -> bool:
    return shutil.which("soxi") is not None


def sox_info(path: Path) -> SoxInfo:
    """`soxi -r`, `-c` and `-D` of `path` (raises when sox cannot read it)."""

    def soxi(flag: str) -> str:
        done = subprocess.run(
            ["soxi", flag, str(path)], capture_output=True, text=True, check=True, timeout=30
        )
        return done.stdout.strip()

    return SoxInfo(int(soxi("-r")), int(soxi("-c")), float(soxi("-D")))
