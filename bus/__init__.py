"""Message bus: fan-out of console/wallboard/emergency messages.

In-process by default (`InProcessBus`); Redis pub/sub when `HOTLINE_REDIS_URL` is set
(`bus.redis.RedisBus`). Topics used by the system:

* ``user:<username>``  messages for one console user (ringing, screen_pop, call_ended)
* ``supervisors``      messages for every supervisor console
* ``wallboard``        live wallboard updates
* ``emergency``        emergency-mode changes
* ``ticket-levels``    a ticket's level changed by an agent
* ``sites_changed``    an import changed site records (every process reloads its cache)
"""

from bus.base import Message, MessageBus, Subscription
from bus.inprocess import InProcessBus

__all__ = ["InProcessBus", "Message", "MessageBus", "Subscription"]
