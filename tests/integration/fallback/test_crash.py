"""A controller killed with SIGKILL in the middle of writing loses nothing it acknowledged."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import fallback
from fallback.journal import EmergencyJournal
from fallback.paper import PaperNumberAllocator

WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from datetime import datetime, UTC
    from pathlib import Path
    from fallback.journal import EmergencyJournal
    from fallback.paper import PaperNumberAllocator

    async def main() -> None:
        d = Path(sys.argv[1])
        journal, paper = EmergencyJournal(d), PaperNumberAllocator(d)
        await journal.open()
        await paper.open()
        i = 0
        while True:
            number = await paper.allocate(f"c{i}", datetime.now(UTC))
            await journal.append({"kind": "call", "call_id": f"c{i}",
                                  "fields": {"paper_number": number, "pad": "x" * 3000}})
            print(f"ack c{i} {number}", flush=True)  # acknowledged only after both fsyncs
            i += 1

    asyncio.run(main())
    """
)


async def test_sigkill_mid_write_keeps_every_acknowledged_call(tmp_path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        WRITER,
        str(tmp_path),
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(Path(fallback.__file__).parent.parent)},
    )
    acked: dict[str, str] = {}
    assert proc.stdout is not None
    async with asyncio.timeout(30):
        while len(acked) < 40:
            line = (await proc.stdout.readline()).decode().split()
            assert line, "writer died"
            acked[line[1]] = line[2]
    proc.send_signal(signal.SIGKILL)
    await proc.wait()

    journal = EmergencyJournal(tmp_path)
    await journal.open()
    journaled = {r["call_id"]: r["fields"]["paper_number"] for r in journal.records("call")}
    assert all(journaled.get(call_id) == number for call_id, number in acked.items())
    assert all(d.torn_tail for d in journal.damage)  # at most a torn, unacknowledged tail
    paper = PaperNumberAllocator(tmp_path)
    await paper.open()
    issued = set(journaled.values())
    fresh = await paper.allocate("after-restart", datetime.now(UTC))
    assert fresh not in issued and fresh not in acked.values()
    await paper.close()
    await journal.close()
