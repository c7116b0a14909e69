"""Tests of fedforge.monitor.server: the FastAPI + SQLite monitor."""
