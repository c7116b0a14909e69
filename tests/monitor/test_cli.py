import stat

from fedforge.cli import main
from fedforge.monitor.security import TOKEN_ENV, token_path


def test_help_lists_the_options(capsys):
    try:
        main(["monitor", "--help"])
    except SystemExit as exc:
        assert exc.code == 0
    out = capsys.readouterr().out
    for option in ("--host", "--port", "--db", "--dashboard", "token"):
        assert option in out


def test_token_command_creates_then_shows_the_same_token(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    db = tmp_path / "monitor.db"
    assert main(["monitor", "token", "--db", str(db)]) == 0
    first = capsys.readouterr().out.strip()
    assert stat.S_IMODE(token_path(db).stat().st_mode) == 0o600
    assert main(["monitor", "token", "--db", str(db)]) == 0
    assert capsys.readouterr().out.strip() == first == token_path(db).read_text().strip()
