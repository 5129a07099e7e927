"""The agent and supervisor web console: FastAPI app, pages, websocket, auth.

Build it with `create_app(ConsoleDeps(...))` in the composition root.
"""

from console.app import create_app
from console.deps import ConsoleDeps
from console.presence import ConsolePresence

__all__ = ["ConsoleDeps", "ConsolePresence", "create_app"]
