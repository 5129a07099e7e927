"""Emergency mode: when the main seat system fails the hotline keeps answering.

* `fallback.domain`: the pure state machine (`mode`), reconciliation (`backfill`), drill
  schedule arithmetic (`drill`).
* `fallback.records`, `fallback.ports`, `fallback.errors`: what the console and API use.
* `fallback.health`: probes (SQL write/read, console heartbeats, ready agents) and the watch.
* `fallback.switching`: AstDB mode, emergency pool, moving waiting callers (`PbxSwitch`).
* `fallback.paper`: durable paper-ticket numbers and printable pads.
* `fallback.journal`: the fsynced JSON-lines emergency journal.
* `fallback.service`: `EmergencyService`, tying it all together.
* `fallback.tickets`: the backfill sink on `routing.ports.TicketStore`.
* `fallback.drill`: emergency-pool drills; `fallback.cli`: `hotline paper`.
"""
