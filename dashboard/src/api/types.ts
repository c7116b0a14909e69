// Hand-written mirror of interfaces.md until the monitor's OpenAPI lands; replaced by schema.d.ts aliases.
export type NodeState = "idle" | "training" | "evaluating" | "failed";
export type Liveness = "online" | "stale" | "lost";
export type RunState = "running" | "paused" | "stopped" | "completed" | "failed";

export interface GlobalMetrics {
  acc?: number | null;
  auc?: number | null;
  balanced_acc?: number | null;
  loss?: number | null;
}

interface EventBase {
  run_id: string;
  phase: string;
  seq: number;
  ts: number;
}

export interface RunStarted extends EventBase {
  type: "run_started";
  dataset: string;
  data_source: "synthetic" | "medmnist";
  strategy: string;
  num_rounds: number;
  start_round?: number;
  engine: string;
  clients: string[];
  partition_sizes?: Record<string, number>;
  label_histograms?: Record<string, number[]>;
  params?: Record<string, number | string | boolean | null>;
}
export interface RoundStarted extends EventBase {
  type: "round_started";
  round: number;
  clients: string[];
}
export interface ClientUpdate extends EventBase {
  type: "client_update";
  round: number;
  client: string;
  stage: "train" | "evaluate";
  state: NodeState;
  num_examples?: number;
  train_loss?: number | null;
  metrics?: Record<string, number>;
  seconds?: number | null;
  bytes_down?: number;
  bytes_up?: number;
}
export interface ClientFailed extends EventBase {
  type: "client_failed";
  round: number;
  client: string;
  stage: "train" | "evaluate";
  error: string;
}
export interface RoundCompleted extends EventBase {
  type: "round_completed";
  round: number;
  metrics: GlobalMetrics;
  train_loss?: number | null;
  clients_ok?: string[];
  clients_failed?: string[];
  num_examples?: number;
  seconds: number;
  bytes_down?: number;
  bytes_up?: number;
}
export interface RunFinished extends EventBase {
  type: "run_finished";
  status: "completed" | "stopped" | "failed";
  rounds_completed: number;
  metrics?: GlobalMetrics;
  error?: string | null;
}
export interface Heartbeat extends EventBase {
  type: "heartbeat";
  node: string;
  state?: NodeState;
}
export type MonitorEvent = RunStarted | RoundStarted | ClientUpdate | ClientFailed | RoundCompleted | RunFinished | Heartbeat;

export interface RunSummary {
  run_id: string;
  phase: string;
  dataset: string | null;
  data_source: string | null;
  strategy: string | null;
  engine: string | null;
  state: RunState;
  current_round: number;
  num_rounds: number | null;
  started_at: number | string | null;
  finished_at: number | string | null;
  last_event_ts: number | string | null;
  metrics: GlobalMetrics;
}

export interface NodeInfo {
  node_id: string;
  kind: "server" | "client";
  state: NodeState;
  liveness: Liveness;
  last_seen: number | string | null;
  partition_size?: number | null;
  label_histogram?: number[] | null;
  failures?: number;
  last_error?: string | null;
}

export interface RunDetail extends RunSummary {
  nodes: NodeInfo[];
}

export interface ControlResult {
  run_id: string;
  previous: RunState;
  state: RunState;
}

export interface PhaseInfo {
  phase: string;
  dataset: string;
  strategy: string;
  rounds: number;
  latest_run_id?: string | null;
  latest_state?: RunState | null;
  launched: boolean;
}

export interface ComparisonEntry {
  kind: "federated" | "centralized";
  name: string;
  dataset?: string | null;
  strategy?: string | null;
  data_source?: string | null;
  rounds?: number | null;
  test: GlobalMetrics;
  val: GlobalMetrics;
  path: string;
}

export interface Comparison {
  federated: ComparisonEntry[];
  centralized: ComparisonEntry[];
}
