"""Components and their lifecycle: each package offers components (`start()` / `stop()`
and a leader-only or everywhere flag); the composition root hands them to `Lifecycle`."""

from lifecycle.components import Component, LeaderLoop, Resource
from lifecycle.supervisor import Lifecycle

__all__ = ["Component", "LeaderLoop", "Lifecycle", "Resource"]
