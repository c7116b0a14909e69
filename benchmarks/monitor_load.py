"""Monitor load test: batched ingest rate and latency on loopback with WebSocket subscribers attached.

Starts `fedforge monitor` on a free port with a throwaway DB, attaches N WebSocket subscribers to one run,
POSTs events in batches (like the telemetry client), and checks every subscriber got every event.
Goals (issue 5): >= 2,000 events/s, p99 POST latency < 50 ms, 0 lost.

    python benchmarks/monitor_load.py [--events 20000] [--batch 100] [--subscribers 20]
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

GOAL_RATE, GOAL_P99_MS = 2000.0, 50.0
TOKEN = "bench-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_monitor(db: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "FEDFORGE_MONITOR_TOKEN": TOKEN}
    profile = ["-m", "cProfile", "-o", os.environ["MONITOR_PROFILE"]] if os.environ.get("MONITOR_PROFILE") else []
    proc = subprocess.Popen([sys.executable, *profile, "-m", "fedforge.cli", "monitor", "--db", str(db), "--port", str(port),
                             "--no-import"],  # measure our own runs only, not the repo's recorded ones
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("monitor did not start within 60 s")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), to rate the server independently of machine load."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def event(seq: int) -> dict:
    """A client_update: the most frequent event of a real run, with a few metrics."""
    return {"type": "client_update", "run_id": "bench", "phase": "A", "seq": seq, "ts": time.time(), "round": 1 + seq // 300,
            "client": f"client_{seq % 3}", "stage": "train", "state": "training", "num_examples": 1000,
            "train_loss": 1.0 / (1 + seq), "metrics": {"acc": 0.5, "auc": 0.7}, "seconds": 0.5}


async def subscriber(url: str, total: int, connected: list, delays: list) -> list[int]:
    """A minimal WebSocket reader (raw frames, answers pings): cheap enough that 20 of them in one Python
    process do not out-eat the monitor on a 2-core machine, the way a full client library would."""
    host, port = url.split("//")[1].split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(f"GET /api/ws?run_id=bench&since=-1 HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                 f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    if b" 101 " not in head.split(b"\r\n", 1)[0]:
        raise ConnectionError(f"WebSocket upgrade refused: {head[:200]!r}")
    connected.append(1)
    seqs: list[int] = []
    buf = b""
    while len(seqs) < total:
        chunk = await reader.read(1 << 16)
        if not chunk:
            raise ConnectionError(f"monitor closed the WebSocket after {len(seqs)} events")
        buf += chunk
        pos = 0
        while len(buf) - pos >= 2:
            opcode, size, header = buf[pos] & 0x0F, buf[pos + 1] & 0x7F, 2
            if size == 126:
                size, header = int.from_bytes(buf[pos + 2:pos + 4], "big"), 4
            elif size == 127:
                size, header = int.from_bytes(buf[pos + 2:pos + 10], "big"), 10
            if len(buf) - pos < header + size:
                break
            payload = buf[pos + header:pos + header + size]
            pos += header + size
            if opcode == 1:
                data = json.loads(payload)
                seqs.append(data["seq"])
                delays.append(time.time() - data["ts"])
            elif opcode == 9:  # ping -> masked pong (client frames must be masked)
                mask = os.urandom(4)
                writer.write(bytes([0x8A, 0x80 | len(payload)]) + mask +
                             bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
            elif opcode == 8:
                raise ConnectionError(f"monitor closed the WebSocket after {len(seqs)} events: {payload[2:]!r}")
        buf = buf[pos:]
    writer.close()
    return seqs


async def _subscribers(url: str, n: int, total: int, ready, timeout: float) -> dict:
    connected, delays = [], []
    tasks = [asyncio.create_task(subscriber(url, total, connected, delays)) for _ in range(n)]
    while len(connected) < n:
        await asyncio.sleep(0.01)
    ready.set()
    received = await asyncio.wait_for(asyncio.gather(*tasks), timeout)
    expected = list(range(total))
    return {"lost": sum(len(set(expected) - set(r)) for r in received),
            "out_of_order": sum(r != expected for r in received), "delays": sorted(delays), "done": time.time()}


def subscribers_process(url: str, n: int, total: int, ready, results, timeout: float) -> None:
    """The WebSocket clients live in their own process, as browsers would: the producer's timing stays clean."""
    results.put(asyncio.run(_subscribers(url, n, total, ready, timeout)))


def percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))] if sorted_values else float("nan")


async def produce(url: str, args) -> tuple[list[float], int, float, float]:
    latencies, accepted = [], 0
    async with httpx.AsyncClient(headers={"authorization": f"Bearer {TOKEN}"}, timeout=30) as client:
        started_wall, started = time.time(), time.perf_counter()
        for first in range(0, args.events, args.batch):
            body = {"events": [event(s) for s in range(first, min(first + args.batch, args.events))]}
            t0 = time.perf_counter()
            r = await client.post(f"{url}/api/events", json=body)
            latencies.append(time.perf_counter() - t0)
            r.raise_for_status()
            accepted += r.json()["accepted"]
        return latencies, accepted, time.perf_counter() - started, started_wall


def run(args) -> dict:
    ctx = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = start_monitor(Path(tmp) / "monitor.db", port)
        sub = None
        try:
            ready, results = ctx.Event(), ctx.Queue()
            sub = ctx.Process(target=subscribers_process,
                              args=(url.replace("http", "ws"), args.subscribers, args.events, ready, results,
                                    args.timeout))
            sub.start()
            if not ready.wait(60):
                raise RuntimeError("subscribers did not connect within 60 s")
            cpu0 = cpu_seconds(proc.pid)
            latencies, accepted, ingest_s, started_wall = asyncio.run(produce(url, args))
            subs = results.get(timeout=args.timeout)
            server_cpu = cpu_seconds(proc.pid) - cpu0
            sub.join(30)
            stored = len(httpx.get(f"{url}/api/runs/bench/events?limit=10000&since=-1").json())
        finally:
            if sub is not None and sub.is_alive():
                sub.kill()
            proc.send_signal(signal.SIGINT)  # uvicorn's graceful shutdown (a profiler, if any, writes its file)
            proc.wait(30)
    lat_ms = sorted(x * 1000 for x in latencies)
    delay_ms = [x * 1000 for x in subs["delays"]]
    return {
        "events": args.events, "batch": args.batch, "subscribers": args.subscribers,
        "ingest_events_per_s": args.events / ingest_s,
        "delivered_events_per_s": args.events / (subs["done"] - started_wall),
        "post_p50_ms": statistics.median(lat_ms), "post_p99_ms": percentile(lat_ms, 0.99),
        "delivery_p50_ms": percentile(delay_ms, 0.5), "delivery_p99_ms": percentile(delay_ms, 0.99),
        "server_cpu_s": server_cpu, "events_per_server_cpu_s": args.events / server_cpu,
        "load_average": os.getloadavg()[0], "cpus": os.cpu_count(),
        "accepted": accepted, "stored_first_page": stored, "lost": subs["lost"],
        "out_of_order_subscribers": subs["out_of_order"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000, help="events to ingest (default 20000)")
    parser.add_argument("--batch", type=int, default=100, help="events per POST (default 100)")
    parser.add_argument("--subscribers", type=int, default=20, help="WebSocket subscribers (default 20)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for delivery (default 300)")
    args = parser.parse_args()
    res = run(args)
    print(f"monitor load: {res['events']} events in batches of {res['batch']}, {res['subscribers']} WebSocket subscribers")
    print(f"  ingest rate      {res['ingest_events_per_s']:9.0f} events/s   ratio to goal {res['ingest_events_per_s'] / GOAL_RATE:5.2f}x "
          f"(goal >= {GOAL_RATE:.0f})")
    print(f"  POST latency     p50 {res['post_p50_ms']:.1f} ms, p99 {res['post_p99_ms']:.1f} ms   "
          f"goal/p99 {GOAL_P99_MS / res['post_p99_ms']:5.2f}x (goal p99 < {GOAL_P99_MS:.0f} ms)")
    print(f"  end-to-end       {res['delivered_events_per_s']:9.0f} events/s to every subscriber; "
          f"emit->subscriber p50 {res['delivery_p50_ms']:.1f} ms, p99 {res['delivery_p99_ms']:.1f} ms")
    print(f"  server CPU       {res['server_cpu_s']:.1f} s for ingest + fan-out = {res['events_per_server_cpu_s']:.0f} "
          f"events per CPU-second ({res['events_per_server_cpu_s'] / GOAL_RATE:.2f}x goal on one free core); "
          f"load average {res['load_average']:.1f} on {res['cpus']} CPUs during the run")
    print(f"  lost             {res['lost']} (accepted {res['accepted']}, out-of-order subscribers "
          f"{res['out_of_order_subscribers']})")
    ok = (res["ingest_events_per_s"] >= GOAL_RATE and res["post_p99_ms"] < GOAL_P99_MS and res["lost"] == 0
          and res["accepted"] == res["events"] and res["out_of_order_subscribers"] == 0)
    print("  goals            " + ("met" if ok else "NOT met"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
