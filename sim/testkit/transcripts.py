"""Reader for "realpbx transcript v1" files (recorded AMI/FastAGI sessions).

Format: see ../shared/asterisk-transcripts/README.md. Used to replay real Asterisk
sessions through the parser and the tracker, in tests, benchmarks and when debugging
a field capture.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def transcripts_dir() -> Path:
    """The recordings: `HOTLINE_TRANSCRIPTS` if set, else the copy vendored in the repo
    (tests/fixtures/asterisk-transcripts, identical to ../shared/asterisk-transcripts)."""
    override = os.environ.get("HOTLINE_TRANSCRIPTS")
    return Path(override) if override else REPO_ROOT / "tests" / "fixtures" / "asterisk-transcripts"


@dataclass(frozen=True, slots=True)
class TranscriptRecord:
    direction: str  # ">>" us → Asterisk, "<<" Asterisk → us, "--" a note
    t_ms: float
    conn: str  # ami1, ami2, agi1
    payload: str

    @property
    def data(self) -> bytes:
        return self.payload.encode("utf-8")


def read_transcript(path: Path) -> list[TranscriptRecord]:
    records: list[TranscriptRecord] = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if line.startswith("#") or not line.strip():
                continue
            try:
                direction, t_ms, conn, payload = line.rstrip("\n").split(" ", 3)
                records.append(TranscriptRecord(direction, float(t_ms), conn, json.loads(payload)))
            except ValueError as exc:
                raise ValueError(f"{path}:{lineno}: not a transcript record: {exc}") from exc
    return records


def received_stream(records: list[TranscriptRecord], conn: str) -> bytes:
    """Every byte Asterisk sent on `conn`, in order (banner included)."""
    return b"".join(r.data for r in records if r.direction == "<<" and r.conn == conn)


def connections(records: list[TranscriptRecord], prefix: str = "ami") -> list[str]:
    seen: list[str] = []
    for r in records:
        if r.conn.startswith(prefix) and r.conn not in seen:
            seen.append(r.conn)
    return seen
