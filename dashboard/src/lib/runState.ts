// Folds a run's event stream into what the views draw. Pure, so replaying stored events and live updates
// go through the same code, and tests can feed it events directly.
// The monitor's fold (fedforge/monitor/server/core/projection.py) is the source of truth: run, rounds, node
// states, who was sampled for each round and last-seen times follow it, checked by tests/dashboard/test_fold_parity.py.
// Two view-only extras show what the projection cannot know yet: a sampled client is "training" from round_started
// until it reports (the monitor keeps its last reported state), and round_completed ends every client's work of
// that round.
import type { GlobalMetrics, MonitorEvent, NodeState, RunFinished } from "@/api/types";

export interface ClientStep {
  round: number;
  stage: "train" | "evaluate";
  state: NodeState;
  num_examples: number;
  train_loss: number | null;
  metrics: Record<string, number>;
  seconds: number | null;
}

export interface Failure {
  round: number;
  stage: string;
  error: string;
  ts: number;
}

export type Traffic = "down" | "up" | null;

export interface NodeView {
  id: string;
  kind: "server" | "client";
  state: NodeState;
  lastSeen: number | null;
  partitionSize: number | null;
  labelHistogram: number[];
  history: ClientStep[];
  failures: Failure[];
  /** Direction of the current round's traffic on the edge to the server (down = model sent to the client). */
  traffic: Traffic;
}

export interface RoundView {
  round: number;
  metrics: GlobalMetrics;
  train_loss: number | null;
  seconds: number | null;
  num_examples: number;
  clients_ok: string[];
  clients_failed: string[];
  client_train_loss: Record<string, number>;
  /** DP budget spent after this round (null without differential privacy). */
  epsilon: number | null;
  hospitals: HospitalMetrics;
  /** Clients the server sampled for this round (round_started; the projection's clients_sampled); null until
   * that event is seen. With fraction_train < 1 the others sit the round out. */
  sampled: string[] | null;
  completed: boolean;
}

// The global model on each hospital's own val split: unweighted mean and worst (round_completed's clients_*).
export interface HospitalMetrics {
  acc_mean: number | null;
  acc_worst: number | null;
  balanced_acc_mean: number | null;
  balanced_acc_worst: number | null;
}

const NO_HOSPITALS: HospitalMetrics = { acc_mean: null, acc_worst: null, balanced_acc_mean: null, balanced_acc_worst: null };

export interface LiveRun {
  runId: string;
  phase: string;
  dataset: string | null;
  dataSource: string | null;
  strategy: string | null;
  engine: string | null;
  numRounds: number | null;
  startedAt: number | null;
  lastTs: number | null;
  finished: { status: RunFinished["status"]; error: string | null; metrics: GlobalMetrics; ts: number } | null;
  currentRound: number;
  rounds: RoundView[];
  nodes: Record<string, NodeView>;
  clientOrder: string[];
  lastSeq: number;
  eventCount: number;
}

export function emptyRun(runId: string): LiveRun {
  return {
    runId, phase: "", dataset: null, dataSource: null, strategy: null, engine: null, numRounds: null,
    startedAt: null, lastTs: null, finished: null, currentRound: 0, rounds: [],
    nodes: { server: newNode("server") }, clientOrder: [], lastSeq: -1, eventCount: 0,
  };
}

function newNode(id: string): NodeView {
  return {
    id, kind: id === "server" ? "server" : "client", state: "idle", lastSeen: null, partitionSize: null,
    labelHistogram: [], history: [], failures: [], traffic: null,
  };
}

function withNode(run: LiveRun, id: string, change: (n: NodeView) => NodeView): LiveRun {
  const existing = run.nodes[id] ?? newNode(id);
  const clientOrder = id !== "server" && !run.clientOrder.includes(id) ? [...run.clientOrder, id] : run.clientOrder;
  return { ...run, clientOrder, nodes: { ...run.nodes, [id]: change(existing) } };
}

function withRound(run: LiveRun, round: number, change: (r: RoundView) => RoundView): LiveRun {
  const index = run.rounds.findIndex((r) => r.round === round);
  const base: RoundView = index >= 0 ? run.rounds[index] : {
    round, metrics: {}, train_loss: null, seconds: null, num_examples: 0, clients_ok: [], clients_failed: [],
    client_train_loss: {}, epsilon: null, hospitals: NO_HOSPITALS, sampled: null, completed: false,
  };
  const rounds = [...run.rounds];
  if (index >= 0) rounds[index] = change(base);
  else {
    rounds.push(change(base));
    rounds.sort((a, b) => a.round - b.round);
  }
  return { ...run, rounds };
}

/** The later of two last-seen times (events may arrive out of ts order). */
function seenAt(lastSeen: number | null, ts: number): number {
  return Math.max(lastSeen ?? 0, ts);
}

/** Apply one event; events at or below lastSeq are duplicates (a reconnect replays from `since`) and ignored. */
export function applyEvent(run: LiveRun, ev: MonitorEvent): LiveRun {
  if (ev.seq <= run.lastSeq) return run;
  let next: LiveRun = {
    ...run, lastSeq: ev.seq, eventCount: run.eventCount + 1, lastTs: Math.max(run.lastTs ?? 0, ev.ts), phase: ev.phase,
  };
  // Every event is sent by the server process: it is alive.
  next = withNode(next, "server", (n) => ({ ...n, lastSeen: seenAt(n.lastSeen, ev.ts) }));
  switch (ev.type) {
    case "run_started": {
      next = {
        ...next, dataset: ev.dataset, dataSource: ev.data_source, strategy: ev.strategy, engine: ev.engine,
        numRounds: ev.num_rounds, startedAt: next.startedAt ?? ev.ts, finished: null,
        currentRound: Math.max(next.currentRound, (ev.start_round ?? 1) - 1),
      };
      for (const id of ev.clients) {
        next = withNode(next, id, (n) => ({
          ...n,
          lastSeen: seenAt(n.lastSeen, ev.ts), // the server lists the clients it has connected
          partitionSize: ev.partition_sizes?.[id] ?? n.partitionSize,
          labelHistogram: ev.label_histograms?.[id] ?? n.labelHistogram,
        }));
      }
      return next;
    }
    case "round_started": {
      next = { ...next, currentRound: Math.max(next.currentRound, ev.round) };
      next = withRound(next, ev.round, (r) => ({ ...r, sampled: ev.clients }));
      next = withNode(next, "server", (n) => ({ ...n, state: "training" }));
      for (const id of ev.clients) {
        // The server has just sent the model: the client is training now (a failed one stays failed until it reports).
        next = withNode(next, id, (n) => ({ ...n, state: n.state === "failed" ? "failed" : "training", traffic: "down" }));
      }
      return next;
    }
    case "client_update": {
      const step: ClientStep = {
        round: ev.round, stage: ev.stage, state: ev.state, num_examples: ev.num_examples ?? 0,
        train_loss: ev.train_loss ?? null, metrics: ev.metrics ?? {}, seconds: ev.seconds ?? null,
      };
      next = withNode(next, ev.client, (n) => ({
        ...n, state: ev.state, lastSeen: seenAt(n.lastSeen, ev.ts), traffic: "up", history: [...n.history, step],
      }));
      if (ev.stage === "evaluate") next = withNode(next, "server", (n) => ({ ...n, state: "evaluating" }));
      if (ev.stage === "train" && ev.train_loss != null) {
        const loss = ev.train_loss;
        next = withRound(next, ev.round, (r) => ({ ...r, client_train_loss: { ...r.client_train_loss, [ev.client]: loss } }));
      }
      return next;
    }
    case "client_failed": // reported by the server: says nothing about the client being alive
      return withNode(next, ev.client, (n) => ({
        ...n, state: "failed", traffic: null,
        failures: [...n.failures, { round: ev.round, stage: ev.stage, error: ev.error, ts: ev.ts }],
      }));
    case "round_completed": {
      next = withRound(next, ev.round, (r) => ({
        ...r, metrics: ev.metrics ?? {}, train_loss: ev.train_loss ?? null, seconds: ev.seconds,
        num_examples: ev.num_examples ?? 0, clients_ok: ev.clients_ok ?? [], clients_failed: ev.clients_failed ?? [],
        epsilon: ev.epsilon ?? null,
        hospitals: {
          acc_mean: ev.clients_acc_mean ?? null, acc_worst: ev.clients_acc_worst ?? null,
          balanced_acc_mean: ev.clients_balanced_acc_mean ?? null, balanced_acc_worst: ev.clients_balanced_acc_worst ?? null,
        },
        completed: true,
      }));
      next = { ...next, currentRound: Math.max(next.currentRound, ev.round) };
      const failed = new Set(ev.clients_failed ?? []);
      for (const id of Object.keys(next.nodes)) {
        next = withNode(next, id, (n) => ({
          ...n, traffic: null, state: failed.has(id) || n.state === "failed" ? "failed" : "idle",
        }));
      }
      return withNode(next, "server", (n) => ({ ...n, state: "idle" }));
    }
    case "run_finished": {
      const finished = { status: ev.status, error: ev.error ?? null, metrics: ev.metrics ?? {}, ts: ev.ts };
      next = { ...next, finished };
      // No node is at work any more: each goes idle, except a client whose last word was a failure; the server
      // of a failed run turns failed.
      for (const id of Object.keys(next.nodes)) {
        next = withNode(next, id, (n) => ({ ...n, traffic: null, state: n.state === "failed" ? "failed" : "idle" }));
      }
      return withNode(next, "server", (n) => ({ ...n, state: ev.status === "failed" ? "failed" : "idle" }));
    }
    case "heartbeat":
      return withNode(next, ev.node, (n) => {
        const state = ev.state ?? "idle";
        // A client turning busy has just been sent work (train or evaluate): show it on its edge.
        const startsWork = n.kind === "client" && (state === "training" || state === "evaluating") && state !== n.state;
        return { ...n, lastSeen: seenAt(n.lastSeen, ev.ts), state, traffic: startsWork ? "down" : n.traffic };
      });
    default:
      return next;
  }
}

export function applyEvents(run: LiveRun, events: MonitorEvent[]): LiveRun {
  return events.reduce(applyEvent, run);
}

/** The newest global metrics: the last completed round's, with the run's final ones (those it reported) on top. */
export function latestMetrics(run: LiveRun): GlobalMetrics {
  const done = completedRounds(run);
  const last = done.length ? done[done.length - 1].metrics : {};
  const finals = Object.entries(run.finished?.metrics ?? {}).filter(([, v]) => v != null);
  return { ...last, ...Object.fromEntries(finals) };
}

/** Who the server sampled for the current round, or null when its round_started was not seen (e.g. a resume). */
export function currentSampling(run: LiveRun): { round: number; clients: string[] } | null {
  const round = run.rounds.find((r) => r.round === run.currentRound);
  return round?.sampled ? { round: round.round, clients: round.sampled } : null;
}

export function completedRounds(run: LiveRun): RoundView[] {
  return run.rounds.filter((r) => r.completed);
}
