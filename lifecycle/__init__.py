"""Components and their lifecycle: each package offers components (`start()` / `stop()`
and a leader-only or everywhere flag) and names its `/healthz` entries (`Watched`); the
composition root hands the components to `Lifecycle`."""

from lifecycle.components import (
    Component,
    HealthEntry,
    HealthState,
    Resource,
    TaskLoop,
    Watched,
)
from lifecycle.heap import SettledHeap
from lifecycle.supervisor import Lifecycle
from lifecycle.thread_handoff import ThreadHandoff

__all__ = [
    "Component",
    "HealthEntry",
    "HealthState",
    "TaskLoop",
    "Lifecycle",
    "Resource",
    "SettledHeap",
    "ThreadHandoff",
    "Watched",
]
