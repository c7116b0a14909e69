"""What the federation imports to talk to a monitor: the event contract, telemetry, run control, endpoint
discovery and the token file. Nothing here imports FastAPI, so a phase runs without the server's dependencies."""
