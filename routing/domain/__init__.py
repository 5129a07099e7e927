"""Pure domain rules of routing: fault levels, SLA policy, priorities. Standard library only."""
