import stat

from fedforge.monitor.client.token import TOKEN_ENV, ensure_token, read_token, token_path


def test_token_created_once_with_0600(tmp_path, monkeypatch):
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    db = tmp_path / "m" / "monitor.db"
    assert read_token(db) is None
    token, created = ensure_token(db)
    assert created and len(token) >= 32
    assert stat.S_IMODE(token_path(db).stat().st_mode) == 0o600
    assert token_path(db).parent == db.parent
    assert ensure_token(db) == (token, False)
    assert read_token(db) == token


def test_env_overrides_file(tmp_path, monkeypatch):
    db = tmp_path / "monitor.db"
    ensure_token(db)
    monkeypatch.setenv(TOKEN_ENV, "from-env")
    assert read_token(db) == "from-env"
    assert ensure_token(tmp_path / "other" / "monitor.db") == ("from-env", False)
    assert not (tmp_path / "other").exists()
