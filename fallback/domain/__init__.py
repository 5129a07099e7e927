"""Pure domain rules of emergency mode. Standard library only."""
