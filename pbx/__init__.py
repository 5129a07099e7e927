"""pbx package."""
