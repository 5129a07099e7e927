"""Paper-ticket numbers: pre-allocated, unique, never reused, and printable pads.

During emergency mode every call gets the next number; the agent writes the call on the
pad sheet carrying that number. The allocator is a fsynced JSON-lines log
(`paper-numbers.jsonl` in HOTLINE_JOURNAL_DIR): a number is on disk before it is handed
out, so a restart continues after the highest number ever issued and never reuses one.
It needs no database.

With a `replica` (`fallback.ports.JournalReplica`) the number comes from the replicated
counter shared by every controller, confirmed on the replicas before it is used, with
this host's highest number (and any higher one seen in the replicated journal, `raise_floor`)
as a floor: numbers stay unique across hosts and a takeover, also when a host lost its
disk or Redis restarted without its data. Without the replica's confirmation no number is
handed out (`PaperNumbersUnavailable`); a number refused that way is never used.
"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from fallback.errors import InvalidRequest
from fallback.journal import JsonLinesLog
from fallback.ports import JournalReplica
from translations import DEFAULT_LANGUAGE, translator

PAPER_FILE = "paper-numbers.jsonl"
DEFAULT_PREFIX = "E"
DEFAULT_WIDTH = 6


def N_(message: str) -> str:
    """Marks a message for the catalogue; the pads translate it as they render."""
    return message


class PaperNumberFormat:
    """`E000042`: a prefix and a zero-padded sequence number."""

    def __init__(self, prefix: str = DEFAULT_PREFIX, width: int = DEFAULT_WIDTH) -> None:
        if not re.fullmatch(r"[A-Z]{1,4}", prefix):
            raise InvalidRequest("paper number prefix must be 1-4 capital letters")
        if not 3 <= width <= 9:
            raise InvalidRequest("paper number width must be 3..9 digits")
        self.prefix = prefix
        self.width = width
        self._pattern = re.compile(rf"{prefix}-?(\d{{1,{width}}})")

    def format(self, n: int) -> str:
        if not 1 <= n < 10**self.width:
            raise InvalidRequest(f"paper number {n} out of range")
        return f"{self.prefix}{n:0{self.width}d}"

    def parse(self, text: str) -> int:
        """The sequence number; accepts `e42`, `E-000042`, ` E000042 `."""
        raw = str(text)
        if "\r" in raw or "\n" in raw:
            raise InvalidRequest("a paper number is a single line")
        match = self._pattern.fullmatch(raw.strip().upper())
        if match is None or int(match.group(1)) == 0:
            raise InvalidRequest(f"not a paper number: {text!r} (expected like {self.format(1)})")
        return int(match.group(1))

    def normalise(self, text: str) -> str:
        return self.format(self.parse(text))


class PaperNumberAllocator:
    """Durable allocator. `open()` once, then `allocate()`; safe to share in one loop."""

    def __init__(
        self,
        directory: Path,
        number_format: PaperNumberFormat | None = None,
        replica: JournalReplica | None = None,
    ) -> None:
        self.format = number_format or PaperNumberFormat()
        self.replica = replica
        self._floor = 0
        self._log = JsonLinesLog(directory / PAPER_FILE)
        self._lock = asyncio.Lock()
        self._highest_allocated = 0
        self._highest_printed = 0
        self._printed: list[tuple[int, int]] = []  # (first, last) inclusive
        self._allocated: dict[int, str | None] = {}
        self._opened = False

    async def open(self) -> None:
        for record in await self._log.open():
            kind = record.get("kind")
            if kind == "allocated":
                n = int(record["n"])
                self._allocated[n] = record.get("call_id")
                self._highest_allocated = max(self._highest_allocated, n)
            elif kind == "printed":
                first, last = int(record["first"]), int(record["last"])
                self._printed.append((first, last))
                self._highest_printed = max(self._highest_printed, last)
        self._opened = True

    async def close(self) -> None:
        await self._log.close()

    def raise_floor(self, number: str) -> None:
        """A number issued elsewhere (read from the replicated journal): never go below it."""
        try:
            self._floor = max(self._floor, self.format.parse(number))
        except InvalidRequest:
            return

    @property
    def next_number(self) -> int:
        return self._highest_allocated + 1

    @property
    def next_unprinted(self) -> int:
        return max(self._highest_printed, self._highest_allocated) + 1

    async def allocate(self, call_id: str | None, at: datetime) -> str:
        """The next number, on disk before it is returned."""
        if not self._opened:
            raise InvalidRequest("paper number allocator is not open")
        async with self._lock:
            n = self._highest_allocated + 1
            if self.replica is not None:
                floor = max(self._highest_allocated, self._highest_printed, self._floor)
                n = await self.replica.allocate_paper(floor)
            number = self.format.format(n)
            await self._log.append(
                {
                    "kind": "allocated",
                    "n": n,
                    "number": number,
                    "call_id": call_id,
                    "at": at.isoformat(),
                }
            )
            self._highest_allocated = max(self._highest_allocated, n)
            self._allocated[n] = call_id
            return number

    async def record_printed(self, first: int, count: int, at: datetime) -> None:
        async with self._lock:
            last = first + count - 1
            self.format.format(last)  # range check
            await self._log.append(
                {"kind": "printed", "first": first, "last": last, "at": at.isoformat()}
            )
            self._printed.append((first, last))
            self._highest_printed = max(self._highest_printed, last)

    def is_issued(self, number: str) -> bool:
        """Allocated to a call or printed on a pad: a number an operator may type in."""
        n = self.format.parse(number)
        return n in self._allocated or any(a <= n <= b for a, b in self._printed)

    def call_of(self, number: str) -> str | None:
        return self._allocated.get(self.format.parse(number))


_PAD_CSS = """
@page { size: A4; margin: 10mm; }
* { box-sizing: border-box; }
body { font-family: "Noto Sans CJK SC", "Noto Sans", "DejaVu Sans", sans-serif;
       font-size: 10.5pt; color: #000; margin: 0; }
.sheet { height: 136mm; border: 0.4mm solid #000; padding: 5mm 6mm; margin-bottom: 4mm;
         page-break-inside: avoid; break-inside: avoid; display: flex; flex-direction: column; }
.sheet:nth-of-type(2n) { page-break-after: always; break-after: page; }
.head { display: flex; justify-content: space-between; align-items: baseline;
        border-bottom: 0.3mm solid #000; padding-bottom: 2mm; }
.title { font-size: 13pt; font-weight: bold; }
.number { font-family: "DejaVu Sans Mono", monospace; font-size: 20pt; font-weight: bold;
          letter-spacing: 0.5mm; }
table { width: 100%; border-collapse: collapse; margin-top: 2mm; }
td { border: 0.2mm solid #000; padding: 1.2mm 2mm; vertical-align: top; }
td.k { width: 30%; white-space: nowrap; }
.tall td { height: 24mm; }
.box { display: inline-block; width: 3.5mm; height: 3.5mm; border: 0.3mm solid #000;
       margin: 0 1mm 0 3mm; vertical-align: middle; }
.foot { margin-top: auto; font-size: 8.5pt; }
@media screen { body { background: #eee; } .sheet { background: #fff; width: 190mm;
                margin: 4mm auto; } }
"""


# The fields a duty agent fills in by hand, in the order they hear them on the call.
_FIELDS = (
    (N_("Date/time"), ""),
    (N_("Caller number"), ""),
    (N_("Organisation / site"), ""),
    (N_("Site code"), ""),
    (N_("Contact"), ""),
    (N_("Fault level"), "levels"),
    (N_("Fault description"), "tall"),
    (N_("Action taken"), "tall"),
    (N_("Agent"), ""),
)
_LEVELS = (N_("1 critical"), N_("2 major"), N_("3 minor"), N_("4 consultation"))


def _sheet(number: str, title: str, _: Callable[[str], str]) -> str:
    n = html.escape(number)
    levels = "".join(f'<span class="box"></span>{html.escape(_(lvl))}' for lvl in _LEVELS)
    rows = "\n".join(
        ('<tr class="tall">' if kind == "tall" else "<tr>")
        + f'<td class="k">{html.escape(_(label))}</td>'
        + f"<td>{levels if kind == 'levels' else ''}</td></tr>"
        for label, kind in _FIELDS
    )
    foot = _(
        "Emergency paper ticket %(number)s: enter it into the ticket system after recovery."
    ) % {"number": n}
    return f"""<section class="sheet" id="{n}">
<div class="head"><span class="title">{html.escape(title)}</span>
<span class="number">{n}</span></div>
<table>
{rows}
</table>
<div class="foot">{foot}</div>
</section>"""


def render_pads_html(
    count: int,
    start: int,
    *,
    number_format: PaperNumberFormat | None = None,
    title: str | None = None,
    language: str = DEFAULT_LANGUAGE,
) -> str:
    """A self-contained HTML document (print CSS inline, no external resources): one
    pre-numbered paper-ticket form per number, two per A4 page, in `language`."""
    _ = translator(language).gettext
    title = title or _("7×24 technical support hotline: emergency ticket")
    fmt = number_format or PaperNumberFormat()
    if count < 1:
        raise InvalidRequest("count must be at least 1")
    if start < 1:
        raise InvalidRequest("start must be at least 1")
    first, last = fmt.format(start), fmt.format(start + count - 1)
    sheets = "\n".join(_sheet(fmt.format(n), title, _) for n in range(start, start + count))
    return f"""<!DOCTYPE html>
<html lang="{language}"><head><meta charset="utf-8">
<title>{html.escape(title)} {first}–{last}</title>
<style>{_PAD_CSS}</style></head>
<body>
{sheets}
</body></html>
"""


def render_pads(
    count: int,
    start: int,
    path: Path,
    *,
    number_format: PaperNumberFormat | None = None,
    title: str | None = None,
    language: str = DEFAULT_LANGUAGE,
) -> Path:
    """Write the pads sheet for numbers `start` .. `start + count - 1` to `path`."""
    document = render_pads_html(
        count, start, number_format=number_format, title=title, language=language
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(document, encoding="utf-8")
    return path
