"""Engineer dispatch from the console, the engineer's check-in page, and the clocks after
arrival (`supervision.domain.dispatch` holds the rules, `storage.dispatch` the rows)."""
