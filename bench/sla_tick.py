"""One SLA scheduler pass over 10,000 and 100,000 open tickets, printed side by side.

For each size, on a scratch SQLite database:
  catch-up pass  first scheduler pass: reads tickets, plans, records every due step
  plan only      the steady pass's planning alone: the pure engine over the same tickets,
                 with the step log the catch-up left, at the same moment (the baseline:
                 the same planning work, no I/O)
  steady pass    next pass a minute later: reads tickets, plans, finds little to do

The last line is one JSON object, {"bench": "sla_tick", "sizes": {N: {...}}}.

Run: .venv/bin/python bench/sla_tick.py [--sizes 10000 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

# Run from a checkout even when the editable install predates the supervision package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert  # noqa: E402

from routing.domain.levels import FaultLevel  # noqa: E402
from storage.database import Database  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import TicketRow  # noqa: E402
from storage.supervision import SupervisionRepository  # noqa: E402
from supervision.domain.escalation import SupervisionPolicy, plan  # noqa: E402
from supervision.notify import NoticeDispatcher, RecipientDirectory  # noqa: E402
from supervision.scheduler import SlaScheduler  # noqa: E402

NOW = datetime(2026, 11, 18, 6, 0, tzinfo=UTC)


async def fill(db: Database, n: int, seed: int = 6) -> None:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        created = NOW - timedelta(minutes=rng.randrange(0, 3 * 24 * 60))
        level = rng.choice([1, 2, 2, 3, 3, 3, 4, 4])
        rows.append(
            {
                "number": f"HL-B{i:07d}",
                "call_id": None,
                "site_code": None,
                "level": level,
                "status": rng.choice(["open", "in_progress", "callback_due"]),
                "source": "call",
                "caller_number": "+8613800138000",
                "caller_name": "",
                "created_at": created,
                "updated_at": created,
                "response_due": created + timedelta(minutes=30 if level == 1 else 120),
                "onsite_due": None,
                "description": "bench",
            }
        )
    async with db.sessions.begin() as s:
        for start in range(0, n, 5000):
            await s.execute(insert(TicketRow), rows[start : start + 5000])


async def measure(n: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        await asyncio.to_thread(upgrade, url)
        db = Database(url)
        await fill(db, n)
        store = SupervisionRepository(db)
        policy = SupervisionPolicy()
        tickets = await store.open_tickets()

        clock = [NOW]
        directory = RecipientDirectory(())  # steps recorded, no notices sent: pure overhead
        dispatcher = NoticeDispatcher(store, directory, {}, clock=lambda: clock[0])
        scheduler = SlaScheduler(
            store=store,
            tickets=store,
            recipients=directory,
            dispatcher=dispatcher,
            policy=policy,
            clock=lambda: clock[0],
        )
        await scheduler.load()
        t = time.perf_counter()
        first = await scheduler.tick()
        catchup_s = time.perf_counter() - t
        clock[0] += timedelta(minutes=1)
        # Baseline: the steady pass's own planning (same tickets, same step log, same
        # moment), pure and in memory: what the pass costs beyond it is I/O and recording.
        steps = scheduler.sent_log
        t = time.perf_counter()
        result = plan(tickets, steps, clock[0], policy)
        plan_s = time.perf_counter() - t
        t = time.perf_counter()
        second = await scheduler.tick()
        steady_s = time.perf_counter() - t
        await scheduler.stop()
        await db.dispose()
        return {
            "plan_s": plan_s,
            "planned": len(result.actions),
            "catchup_s": catchup_s,
            "recorded": len(first.actions),
            "steady_s": steady_s,
            "steady_actions": len(second.actions),
        }


async def main(sizes: list[int]) -> None:
    logging.basicConfig(level=logging.ERROR)
    results = {n: await measure(n) for n in sizes}
    print(
        f"{'open tickets':>12} | {'plan only (baseline)':>21} | {'catch-up pass':>22} | "
        f"{'steady pass':>18}"
    )
    for n, r in results.items():
        print(
            f"{n:>12,} | {r['plan_s']:>8.3f} s {int(r['planned']):>8,} act | "
            f"{r['catchup_s']:>8.3f} s {int(r['recorded']):>8,} rec | "
            f"{r['steady_s']:>8.3f} s {int(r['steady_actions']):>5,} act"
        )
    if len(sizes) >= 2:
        a, b = sizes[0], sizes[-1]
        print(
            f"growth {a:,} -> {b:,} tickets (x{b / a:.0f}): plan x"
            f"{results[b]['plan_s'] / results[a]['plan_s']:.1f}, steady pass x"
            f"{results[b]['steady_s'] / results[a]['steady_s']:.1f}"
        )
    assert FaultLevel.P1  # the engine's levels are the routing package's
    figures = {
        str(n): {
            "plan_s": round(r["plan_s"], 4),
            "planned": int(r["planned"]),
            "catchup_s": round(r["catchup_s"], 4),
            "steady_s": round(r["steady_s"], 4),
            "steady_actions": int(r["steady_actions"]),
        }
        for n, r in results.items()
    }
    print(json.dumps({"bench": "sla_tick", "sizes": figures}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    asyncio.run(main(parser.parse_args().sizes))
