"""Supervision: SLA engine and escalation ladder, notifications, live wallboard, monthly report.

* `supervision.domain`      pure rules (clock injected)
* `supervision.ports`       what it needs from storage (implemented in `storage.supervision`,
                            `storage.reports`), with its records in `supervision.records`
* `supervision.scheduler`   runs the escalation plan periodically; state in the database
* `supervision.notify`      DingTalk / WeCom robots, SMTP e-mail, JSON webhook; routing, retries
* `supervision.wallboard`   publishes wallboard snapshots to the bus `wallboard` topic
* `supervision.web`         FastAPI router: `/ack/{code}`, `/wallboard`, `/ws/wallboard`
* `supervision.report`      monthly operations report (HTML + PNG plots + CSV)
"""
