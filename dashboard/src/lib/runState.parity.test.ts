/// <reference types="node" />
// The TypeScript fold against the monitor's Python fold (the source of truth). Driven by
// tests/dashboard/test_fold_parity.py, which writes each case's events and the Python fold's view of them to
// the JSON file named by FOLD_PARITY_CASES; without that variable there is nothing to compare and it skips.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { GlobalMetrics, MonitorEvent } from "@/api/types";
import { LOST_AFTER_S, STALE_AFTER_S } from "./liveness";
import { applyEvents, emptyRun, latestMetrics, type LiveRun } from "./runState";

interface ParityCases {
  liveness: { stale_after: number; lost_after: number };
  cases: { name: string; events: MonitorEvent[]; expected: unknown }[];
}

const casesPath = process.env.FOLD_PARITY_CASES;
const parity: ParityCases | null = casesPath ? JSON.parse(readFileSync(casesPath, "utf8")) : null;

const METRIC_KEYS = ["acc", "auc", "balanced_acc", "loss"] as const;

function metricsView(m: GlobalMetrics) {
  return Object.fromEntries(METRIC_KEYS.map((k) => [k, m[k] ?? null]));
}

/** The fields both folds have, named as in the monitor's projection (mirror of test_fold_parity.shared_view). */
function sharedView(run: LiveRun) {
  return {
    run: {
      phase: run.phase, dataset: run.dataset, data_source: run.dataSource, strategy: run.strategy, engine: run.engine,
      num_rounds: run.numRounds, current_round: run.currentRound, started_at: run.startedAt,
      finished_at: run.finished?.ts ?? null, last_event_ts: run.lastTs, state: run.finished?.status ?? "running",
      error: run.finished?.error ?? null, metrics: metricsView(latestMetrics(run)),
    },
    rounds: run.rounds.map((r) => ({
      round: r.round, ...metricsView(r.metrics), train_loss: r.train_loss, clients_ok: r.clients_ok,
      clients_failed: r.clients_failed, num_examples: r.num_examples, seconds: r.seconds,
      client_train_loss: r.client_train_loss, clients_sampled: r.sampled, completed: r.completed,
    })),
    nodes: Object.fromEntries(Object.values(run.nodes).map((n) => [n.id, {
      kind: n.kind, state: n.state, last_seen: n.lastSeen, partition_size: n.partitionSize,
      label_histogram: n.labelHistogram,
      history: n.history.map((h) => ({
        round: h.round, stage: h.stage, num_examples: h.num_examples, train_loss: h.train_loss, metrics: h.metrics,
        seconds: h.seconds,
      })),
      failures: n.failures.map((f) => ({ round: f.round, stage: f.stage, error: f.error })),
    }])),
  };
}

describe.skipIf(!parity)("the dashboard's event fold equals the monitor's", () => {
  it("ages nodes with the monitor's liveness thresholds", () => {
    expect({ stale_after: STALE_AFTER_S, lost_after: LOST_AFTER_S }).toEqual(parity?.liveness);
  });

  for (const { name, events, expected } of parity?.cases ?? []) {
    it(name, () => {
      const view = sharedView(applyEvents(emptyRun(events[0].run_id), events));
      // Part by part, so a failure's diff points at the run, the rounds or the nodes.
      const want = expected as typeof view;
      expect(view.nodes).toEqual(want.nodes);
      expect(view.rounds).toEqual(want.rounds);
      expect(view.run).toEqual(want.run);
    });
  }
});
