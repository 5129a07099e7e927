"""JSON API of the console (INTERFACE.md "HTTP"), one module per OpenAPI tag, each route
behind its role check: `auth` (log-in, log-out, who am I; the user's other sessions and
own settings), `tickets`, `calls` (with the queues and the open consoles), `sites`,
`agent` (ready / paused), `emergency` (the mode, its switch and health checks),
`backfill` (paper tickets, reconciliation, callbacks), `audit` (the access audit trail),
`users` (console users, admin) and `outage` (the announcement callers hear).

`router` carries every route that needs only the console's own ports (`ConsoleDeps`), in
the order of the OpenAPI document. The routes that drive a port of their own are made
with it and mounted by `console.components.build`: `outage.outage_router(board)`,
`calls.recordings_router(files)` and `tickets.split_router(splitter)`.
"""

from fastapi import APIRouter

from console.api import agent, audit, auth, backfill, calls, emergency, sites, tickets, users

router = APIRouter()
for _part in (
    auth.router,
    tickets.router,
    calls.router,
    sites.router,
    agent.router,
    emergency.router,
    backfill.router,
    audit.router,
    auth.session_router,
    users.router,
):
    router.include_router(_part)

__all__ = ["router"]
