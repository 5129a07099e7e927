"""ami package."""
