"""What a pipeline stage declares: its name, its place, which events it takes, how it
retries, and whether it runs on the leader only."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum

from calls import CallEnded, CallEvent, DomainCallEvent

CallEventHandler = Callable[[DomainCallEvent], Awaitable[None]]


class Origin(StrEnum):
    """Where a call event comes from."""

    LIVE = "live"  # the call tracker, from AMI as it happens
    CDR = "cdr"  # rebuilt from the PBX's call detail records (a call no controller saw)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How a stage retries an event that failed with one of `retryable`.

    `give_up_after` None: retry for as long as it takes (a call's record and ticket must
    not be lost to a long database outage); otherwise the event is dropped for this stage
    after that many seconds (a screen-pop minutes late helps nobody). Any other exception
    is logged with the call id and the stage moves on to the call's next event."""

    retryable: tuple[type[BaseException], ...] = ()
    initial: float = 0.2
    longest: float = 10.0
    give_up_after: float | None = None


NO_RETRY = RetryPolicy()


@dataclass(frozen=True, slots=True)
class Stage:
    """One consumer of call events. Stages run independently of each other: each sees
    every event of a call in order, and a stage retrying (the database is down) holds up
    neither the other stages nor other calls. `order` is the order in which the stages
    are handed a new event (the screen-pop first, so it never waits behind a write)."""

    name: str
    order: int
    handle: CallEventHandler
    retry: RetryPolicy = NO_RETRY
    # Writes shared state (the database): run only while leading, fenced by the cluster.
    leader_only: bool = False
    origins: frozenset[Origin] = field(default_factory=lambda: frozenset({Origin.LIVE}))
    # An event this stage is retrying is kept in the pipeline's spool (on disk), so it
    # survives a crash during a long outage.
    spool: bool = False
    # The event types this stage handles (None: all). The others never reach its lanes:
    # a call raises a dozen events most stages ignore. CallEnded, which ends a lane,
    # must be one of them.
    events: tuple[type[CallEvent], ...] | None = None

    def __post_init__(self) -> None:
        if self.events is not None and CallEnded not in self.events:
            raise ValueError(f"stage {self.name!r}: its events must include CallEnded")

    def takes(self, event: DomainCallEvent, origin: Origin) -> bool:
        """Whether `event` from `origin` goes to this stage."""
        return origin in self.origins and (self.events is None or isinstance(event, self.events))
