"""Is the dashboard responsive while a run of 100 hospitals streams 1,000 events a minute? Prints what the page measured.

Starts `fedforge monitor` (temp DB), opens the built dashboard in headless Debian chromium (Playwright with
executable_path; no browser download), feeds one event per POST at the given rate (a synthetic run of
--clients hospitals, --sampled of them per round: tests/dashboard/fixtures/many_clients.py; --clients 3 is the
recorded-like 3-hospital phase) while clicking once a second (comparison tab, back to the run, re-sort its node
list), and reads the page's probes: long tasks (main thread busy > 50 ms), Event Timing entries of slow
interactions, the input delay of each click, and how late a 50 ms timer fires (event-loop lag).

    python benchmarks/dashboard_responsiveness.py              # 60 s at 1,000 events/min, 100 hospitals, 30 a round
    python benchmarks/dashboard_responsiveness.py --clients 3  # the 3-hospital phase
    python benchmarks/dashboard_responsiveness.py --seconds 15 --per-minute 4000
Needs: dashboard built (cd dashboard && npm ci && npm run build), /usr/bin/chromium, playwright (dev extra).

FIGURES
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.dashboard.harness import Monitor, launch_browser, load_run, missing_requirements


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to feed events (default 60)")
    parser.add_argument("--per-minute", type=int, default=1000, help="event rate (default 1000/min)")
    parser.add_argument("--clients", type=int, default=100, help="hospitals in the run (default 100; 3 = recorded-like phase)")
    parser.add_argument("--sampled", type=int, help="hospitals sampled per round (default 30, or all when fewer)")
    args = parser.parse_args()
    args.sampled = min(30, args.clients) if args.sampled is None else args.sampled
    if not 1 <= args.sampled <= args.clients:
        parser.error(f"--sampled {args.sampled} must be between 1 and --clients {args.clients}")
    reason = missing_requirements()
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        monitor = Monitor(Path(tmp)).start()
        browser = launch_browser(p)
        try:
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            stats = load_run(monitor, page, seconds=args.seconds, per_minute=args.per_minute, clients=args.clients,
                             per_round=None if args.clients == 3 else args.sampled)
        finally:
            browser.close()
            monitor.stop()
    print(json.dumps(stats, indent=2))
    print(f"main thread busy in long tasks: {stats['main_thread_busy_share']:.1%} of the time; "
          f"slowest click {stats['slowest_interaction_ms']} ms; timer lag p95 {stats['timer_lag_p95_ms']} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
