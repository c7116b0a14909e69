"""The monitor: `client` is what the federation imports (events, telemetry, run control, discovery, token file,
no FastAPI); `server` is the FastAPI + SQLite service behind `fedforge monitor` and the dashboard."""
