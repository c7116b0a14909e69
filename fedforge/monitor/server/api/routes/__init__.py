"""One router per resource: health, events, runs, control, phases, ws."""
