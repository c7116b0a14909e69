"""The monitor's HTTP and WebSocket API, mounted under /api."""
