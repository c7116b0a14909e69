"""The federation imports fedforge.monitor.client: it must run without the server's web stack."""
import subprocess
import sys

CLIENT_MODULES = ("control", "endpoint", "events", "telemetry", "token")
SERVER_SIDE = ("fastapi", "starlette", "uvicorn", "sqlite_utils", "fedforge.monitor.server")


def test_client_modules_pull_in_nothing_of_the_server():
    """Imported in a fresh interpreter (this one has FastAPI loaded already), the client loads no server module."""
    code = (f"import sys\nfor name in {CLIENT_MODULES!r}:\n    __import__('fedforge.monitor.client.' + name)\n"
            f"print(sorted(m for m in sys.modules if m.startswith({SERVER_SIDE!r})))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
