"""Emergency mode: when the main seat system fails the hotline keeps answering.

* `fallback.domain`: the pure state machine (`mode`), reconciliation (`backfill`), drill
  schedule arithmetic (`drill`), checks of what operators type in (`forms`).
* `fallback.records`, `fallback.ports`, `fallback.errors`: what the console and API use.
* `fallback.health`: probes (SQL write/read, console heartbeats, ready agents) and the watch.
* `fallback.switching`: AstDB mode, emergency pool, moving waiting callers (`PbxSwitch`).
* `fallback.paper`: durable paper-ticket numbers and printable pads.
* `fallback.journal`: the fsynced JSON-lines emergency journal.
* `fallback.switchover`: the state machine acted out (journal, PBX, audit).
* `fallback.call_journal`: emergency calls and their paper numbers, journaled; the
  pipeline's `emergency-journal` stage.
* `fallback.backfill_desk`: paper tickets typed in, reconciliation, closing the backfill;
  `fallback.call_records` completes the call records from the journal.
* `fallback.callbacks`: calling back the callers an outage affected.
* `fallback.feed`: what the supervisor's page hears on the bus.
* `fallback.service`: `EmergencyService`, the one object the console and the wiring use.
* `fallback.tickets`: the backfill sink on `routing.ports.TicketStore`.
* `fallback.drill`: emergency-pool drills; `fallback.cli`: `hotline paper`.
"""
