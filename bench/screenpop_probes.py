"""What `bench/screenpop.py` watches inside the running hotline: when each call's events
pass the points it times, the IVR's routing-advice timeouts, the group commit's batch
sizes, and (--profile) the pipeline handlers' times and the SQL statements run."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from screenpop_setup import Result, pct, timed

from hotline.runtime import HotlineService

console = Console(width=150)


class AdviceTimeouts(logging.Handler):
    """Counts the IVR's "routing advice took over" lines (its one log line per miss)."""

    count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().find("routing advice took over") >= 0:
            AdviceTimeouts.count += 1


def advice_timeouts() -> int:
    return AdviceTimeouts.count


def batch_sizes(service: HotlineService) -> dict[int, int]:
    """The group commit's batch sizes so far (empty where there is no group commit)."""
    commits = getattr(getattr(service.path.routing.call_tickets, "writes", None), "commits", None)
    return commits.stats.sizes if commits is not None else {}


@dataclass
class Stamps:
    """When each call's events passed the points the benchmark watches, and (--profile)
    the pipeline handlers' times and the SQL statements run."""

    tracked_at: dict[str, float] = field(default_factory=dict)  # CallAnswered out of tracker
    ticketed_at: dict[str, float] = field(default_factory=dict)  # ticket opened
    published_at: dict[str, float] = field(default_factory=dict)  # pop on the bus
    handler_ms: dict[str, list[float]] = field(default_factory=dict)
    statements: dict[str, int] = field(default_factory=dict)

    def attach(self, service: HotlineService, *, profile: bool) -> None:
        def on_event(event: Any) -> None:
            if type(event).__name__ == "CallAnswered":
                self.tracked_at.setdefault(event.call_id, time.monotonic())

        service.edges.ami.tracker.subscribe(on_event)
        open_ticket = service.path.routing.call_tickets.open_ticket

        async def stamped(call: Any, at: Any) -> Any:
            ticket = await open_ticket(call, at)
            self.ticketed_at.setdefault(call.call_id, time.monotonic())
            return ticket

        service.path.routing.call_tickets.open_ticket = stamped  # type: ignore[method-assign]
        publish = service.edges.bus.bus.publish

        async def published(topic: str, message: Any) -> None:
            if isinstance(message, dict) and message.get("type") == "screen_pop":
                self.published_at.setdefault(message["call_id"], time.monotonic())
            await publish(topic, message)

        service.edges.bus.bus.publish = published  # type: ignore[method-assign]
        ivr_log = logging.getLogger("ivr.server")
        ivr_log.addHandler(AdviceTimeouts())
        ivr_log.setLevel(logging.WARNING)
        ivr_log.propagate = False
        if profile:
            self._profile(service)

    def _profile(self, service: HotlineService) -> None:
        from sqlalchemy import event as sa_event

        def count(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
            words = statement.split()
            key = " ".join(words[:3])[:60] if words else "?"
            self.statements[key] = self.statements.get(key, 0) + 1

        for engine in {service.edges.store.db.engine, service.edges.store.db.read_engine}:
            sa_event.listen(engine.sync_engine, "before_cursor_execute", count)
        handlers = service.path.pipeline.pipeline._handlers
        for name, handler in list(handlers.items()):
            handlers[name] = timed(name, handler, self.handler_ms)

    def apply(
        self,
        results: list[Result],
        queued_at: dict[str, float],
        connect_at: dict[str, float],
        received_at: dict[str, float],
    ) -> None:
        """Per phase: queue join -> ticket, and the pop's three legs (`received_at`: when
        the agent's websocket client got each call's pop)."""
        legs = {
            "AgentConnect -> tracker": (connect_at, self.tracked_at),
            "tracker -> bus": (self.tracked_at, self.published_at),
            "bus -> agent": (self.published_at, received_at),
        }
        for result in results:
            ids = result.call_ids
            result.ticket_ms = span(queued_at, self.ticketed_at, ids)
            result.legs_ms = {leg: span(*ends, ids) for leg, ends in legs.items()}
            # Where the slowest pops spent their time: a p99 made of one-off stalls shows
            # them in different legs, a slow leg shows in every one.
            totals = {
                c: (received_at[c] - connect_at[c]) * 1000
                for c in ids
                if c in connect_at and c in received_at
            }
            slowest = sorted(totals, key=totals.__getitem__, reverse=True)[:3]
            result.slowest_pops = [
                {"pop": totals[c]}
                | {
                    leg: (end[c] - start[c]) * 1000
                    for leg, (start, end) in legs.items()
                    if c in start and c in end
                }
                for c in slowest
            ]

    def print_profile(self) -> None:
        for key, values in sorted(self.handler_ms.items()):
            console.print(
                f"  {key:<32} n={len(values):<4} p50 {pct(values, 0.5):7.1f} ms "
                f"p99 {pct(values, 0.99):7.1f} ms"
            )
        for key, n in sorted(self.statements.items(), key=lambda kv: -kv[1])[:25]:
            console.print(f"  {n:6d}  {key}")


def span(start: dict[str, float], end: dict[str, float], call_ids: list[str]) -> list[float]:
    """Milliseconds from `start` to `end` for the calls that have both."""
    return [(end[c] - start[c]) * 1000 for c in call_ids if c in start and c in end]
