"""Pure rules of the console: session tokens and agent queue membership (stdlib only)."""
