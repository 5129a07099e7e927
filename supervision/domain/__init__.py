"""Pure supervision rules: SLA clocks, escalation plan, working calendar, wallboard figures."""
