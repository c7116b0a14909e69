"""The monitor service: FastAPI app, CLI, API routes and the SQLite-backed core (`fedforge monitor`)."""
