"""storage: the database edge (SQLAlchemy 2 async, SQLite by default, PostgreSQL supported).

- `storage.database.Database(url, node="")`: engine + sessions (`sessions` for writes,
  `reads` for read-only work), `create()`, `upgrade()`, `ping()`, `probe()`, `dispose()`.
- `storage.migrate.upgrade(url)`: Alembic migrations (synchronous; `hotline db upgrade`).
- Repositories implementing `routing.ports`: `TicketRepository`, `CallRepository`,
  `SiteRepository`, `UserRepository`; `storage.repositories.Stores.build(db, ...)` makes all.
- Repositories implementing `supervision.ports`: `storage.supervision.SupervisionRepository`
  (escalation log, notices, acknowledgements, pauses, open tickets, the day's calls) and
  `storage.reports.ReportRepository` (the monthly report's rows).
- `storage.revocations.RevocationRepository`: logged-out console sessions
  (`console.ports.SessionRevocations`), shared by every console process.
- `storage.site_import.import_sites(db, path, progress=...) -> ImportReport`.
"""
