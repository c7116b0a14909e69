"""Monitor internals: settings, the SQLite store, the bearer-token dependency, pub/sub, phase launcher."""
