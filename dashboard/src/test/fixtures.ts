// A small recorded-like phase: run_started, rounds with client updates, a failure, run_finished.
import { vi } from "vitest";
import type { MonitorEvent } from "@/api/types";

export const RUN_ID = "A-20261129-1";
export const CLIENTS = ["client_0", "client_1", "client_2"];

export function phaseEvents(rounds = 3, { finish = true, failIn = 2 } = {}): MonitorEvent[] {
  const events: MonitorEvent[] = [];
  let seq = 0;
  let ts = 1_700_000_000;
  const base = () => ({ run_id: RUN_ID, phase: "A", seq: seq++, ts: (ts += 1) });
  events.push({
    ...base(), type: "run_started", dataset: "bloodmnist", data_source: "synthetic", strategy: "fedavg",
    num_rounds: rounds, engine: "local", clients: CLIENTS,
    partition_sizes: { client_0: 400, client_1: 300, client_2: 200 },
    label_histograms: { client_0: [50, 50, 50, 50, 50, 50, 50, 50], client_1: [100, 0, 50, 50, 25, 25, 25, 25], client_2: [0, 0, 100, 100, 0, 0, 0, 0] },
  });
  for (let r = 1; r <= rounds; r++) {
    events.push({ ...base(), type: "round_started", round: r, clients: CLIENTS });
    const ok: string[] = [];
    const failed: string[] = [];
    CLIENTS.forEach((c, i) => {
      if (r === failIn && c === "client_2") {
        events.push({ ...base(), type: "client_failed", round: r, client: c, stage: "train", error: "CUDA out of memory" });
        failed.push(c);
        return;
      }
      events.push({
        ...base(), type: "client_update", round: r, client: c, stage: "train", state: "idle", num_examples: 100 * (i + 1),
        train_loss: 2 / r + i * 0.1, metrics: { acc: 0.5 + 0.1 * r }, seconds: 1.5,
      });
      ok.push(c);
    });
    events.push({
      ...base(), type: "round_completed", round: r, metrics: { acc: 0.5 + 0.1 * r, auc: 0.7 + 0.05 * r, balanced_acc: 0.45 + 0.1 * r, loss: 1.5 / r },
      train_loss: 2 / r, clients_ok: ok, clients_failed: failed, num_examples: 600, seconds: 3 + r,
    });
  }
  if (finish) {
    events.push({
      ...base(), type: "run_finished", status: "completed", rounds_completed: rounds,
      metrics: { acc: 0.5 + 0.1 * rounds, auc: 0.7 + 0.05 * rounds, balanced_acc: 0.4, loss: 1.5 / rounds },
    });
  }
  return events;
}

export const MANY = Array.from({ length: 100 }, (_, i) => `client_${i}`);

/** A run of 100 hospitals. Round r samples `perRound` of them, starting at client (r-1)*perRound (wrapping);
 * each sampled client trains (loss 2/r + i/100) and evaluates (eval_acc 0.5 + i/1000), client size 100 + i. */
export function manyClientEvents(rounds: number, { finish = true, perRound = MANY.length } = {}): MonitorEvent[] {
  let seq = 0;
  const base = () => ({ run_id: "M-1", phase: "A", seq: seq++, ts: 1_700_000_000 + seq });
  const events: MonitorEvent[] = [{
    ...base(), type: "run_started", dataset: "bloodmnist", data_source: "synthetic", strategy: "fedavg",
    num_rounds: rounds, engine: "simulation", clients: MANY,
    partition_sizes: Object.fromEntries(MANY.map((c, i) => [c, 100 + i])), label_histograms: {},
  }];
  for (let r = 1; r <= rounds; r++) {
    const sampled = Array.from({ length: perRound }, (_, k) => ((r - 1) * perRound + k) % MANY.length).sort((a, b) => a - b);
    const ids = sampled.map((i) => MANY[i]);
    events.push({ ...base(), type: "round_started", round: r, clients: ids });
    sampled.forEach((i) => events.push({
      ...base(), type: "client_update", round: r, client: MANY[i], stage: "train", state: "idle", num_examples: 100,
      train_loss: 2 / r + i / 100, metrics: {}, seconds: 0.5,
    }));
    sampled.forEach((i) => events.push({
      ...base(), type: "client_update", round: r, client: MANY[i], stage: "evaluate", state: "idle", num_examples: 10,
      metrics: { eval_acc: 0.5 + i / 1000, eval_loss: 1 }, seconds: 0.1,
    }));
    events.push({
      ...base(), type: "round_completed", round: r, metrics: { acc: 0.5, auc: 0.7, balanced_acc: 0.4, loss: 1 / r },
      train_loss: 2 / r, clients_ok: ids, clients_failed: [], num_examples: 100 * perRound, seconds: 10,
    });
  }
  if (finish) events.push({ ...base(), type: "run_finished", status: "completed", rounds_completed: rounds, metrics: {} });
  return events;
}

/** A fake WebSocket the tests drive by hand. */
export class FakeSocket {
  static instances: FakeSocket[] = [];
  url: string;
  onopen: (() => void) | null = null;
  onmessage: ((m: { data: string }) => void) | null = null;
  onclose: (() => void) | null = null;
  onerror: (() => void) | null = null;
  closed = false;
  constructor(url: string) {
    this.url = url;
    FakeSocket.instances.push(this);
  }
  open() {
    this.onopen?.();
  }
  send(ev: unknown) {
    this.onmessage?.({ data: JSON.stringify(ev) });
  }
  close() {
    if (this.closed) return;
    this.closed = true;
    this.onclose?.();
  }
}

/** Mock fetch by path: a handler returns [status, body]. */
export function mockFetch(routes: Record<string, (init?: RequestInit) => [number, unknown]>) {
  const calls: { url: string; init?: RequestInit }[] = [];
  const fn = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input);
    calls.push({ url, init });
    const key = Object.keys(routes).find((k) => url === k || url.startsWith(k + "?"));
    const [status, body] = key ? routes[key](init) : [404, { detail: `no mock for ${url}` }];
    return new Response(status === 204 || body == null ? null : JSON.stringify(body), { status });
  });
  vi.stubGlobal("fetch", fn);
  return calls;
}
