"""All the stores of one database, typed by the routing ports they implement.

    stores = Stores.build(Database(settings.db_url), policy=settings.sla_policy())

mypy checks here that every repository really satisfies its port.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, tzinfo

from calls.clock import Clock, utc_now
from routing.domain.levels import SlaPolicy
from routing.ports import CallStore, SiteDirectory, TicketStore, UserStore
from storage.calls import CallRepository
from storage.database import Database
from storage.sites import SiteRepository
from storage.tickets import TicketRepository
from storage.users import UserRepository


@dataclass(frozen=True, slots=True)
class Stores:
    db: Database
    tickets: TicketStore
    calls: CallStore
    sites: SiteDirectory
    users: UserStore

    @classmethod
    def build(
        cls,
        db: Database,
        *,
        policy: SlaPolicy | None = None,
        node: str = "",
        tz: tzinfo = UTC,
        clock: Clock = utc_now,
        site_cache_seconds: float = 30.0,
    ) -> Stores:
        return cls(
            db=db,
            tickets=TicketRepository(db, node=node, tz=tz, clock=clock, policy=policy),
            calls=CallRepository(db, clock=clock),
            sites=SiteRepository(db, tz=tz, clock=clock, cache_seconds=site_cache_seconds),
            users=UserRepository(db, clock=clock),
        )
