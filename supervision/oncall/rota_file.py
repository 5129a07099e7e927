"""The on-call rota CSV: UTF-8 (with or without BOM), header row, one duty period a row
with the columns `start`, `end` (ISO 8601 with a UTC offset), `engineer`, `phone`,
`channel` (dingtalk|wecom|sms|email|webhook) and `address`. Unknown columns are ignored;
a bad row is reported with its file line number (the header is line 1)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from supervision.domain.oncall import ROTA_COLUMNS, RotaRowError, ShiftDraft, parse_rota_row


class RotaFileError(ValueError):
    """The file as a whole cannot be read (encoding, header)."""


@dataclass
class RotaFile:
    shifts: list[tuple[int, ShiftDraft]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # "line N: reason"
    rows_read: int = 0


def read_rota(data: bytes) -> RotaFile:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RotaFileError(f"not UTF-8: {exc}") from exc
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration as exc:
        raise RotaFileError("line 1: empty file") from exc
    except csv.Error as exc:
        raise RotaFileError(f"line 1: unreadable header: {exc}") from exc
    missing = [c for c in ROTA_COLUMNS if c not in header]
    if missing:
        raise RotaFileError(f"line 1: missing required column(s): {', '.join(missing)}")
    result = RotaFile()
    line = reader.line_num + 1
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            result.rows_read += 1
            result.errors.append(f"line {line}: malformed CSV: {exc}")
            line = reader.line_num + 1
            continue
        if any(v.strip() for v in values):
            result.rows_read += 1
            row = dict(zip(header, values, strict=False))
            try:
                result.shifts.append((line, parse_rota_row(row)))
            except RotaRowError as exc:
                result.errors.append(f"line {line}: {exc}")
        line = reader.line_num + 1
    return result
