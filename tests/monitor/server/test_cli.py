import stat

from fedforge.cli import main
from fedforge.monitor.client.token import TOKEN_ENV, token_path


def test_help_lists_the_options(capsys):
    try:
        main(["monitor", "--help"])
    except SystemExit as exc:
        assert exc.code == 0
    out = capsys.readouterr().out
    for option in ("--host", "--port", "--db", "--dashboard", "token"):
        assert option in out


def test_defaults_bind_loopback_on_8090():
    from fedforge.cli import build_parser

    args = build_parser().parse_args(["monitor"])
    assert (args.action, args.host, args.port) == ("serve", "127.0.0.1", 8090)
    assert str(args.db) == "artifacts/monitor/monitor.db"


def test_token_command_creates_then_shows_the_same_token(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    db = tmp_path / "monitor.db"
    assert main(["monitor", "token", "--db", str(db)]) == 0
    first = capsys.readouterr().out.strip()
    assert stat.S_IMODE(token_path(db).stat().st_mode) == 0o600
    assert main(["monitor", "token", "--db", str(db)]) == 0
    assert capsys.readouterr().out.strip() == first == token_path(db).read_text().strip()


def test_serve_prints_the_token_once(tmp_path):
    import os
    import subprocess
    import sys
    import time

    import httpx

    from ..conftest import free_port

    env = {k: v for k, v in os.environ.items() if k != TOKEN_ENV}
    db = tmp_path / "monitor.db"

    def serve() -> tuple[str, int]:
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "fedforge.cli", "monitor", "--db", str(db), "--port", str(port),
                                 "--dashboard", str(tmp_path / "no-dist")],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    assert httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).json()["status"] == "ok"
                    break
                except httpx.HTTPError:
                    assert time.monotonic() < deadline and proc.poll() is None, "monitor did not start"
                    time.sleep(0.1)
        finally:
            proc.terminate()
            out, _ = proc.communicate(timeout=30)
        return out, port

    first, _ = serve()
    token = token_path(db).read_text().strip()
    assert token in first
    second, _ = serve()
    assert token not in second  # printed once, on the start that created it
