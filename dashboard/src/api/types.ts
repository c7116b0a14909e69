// Names for the monitor's API types; all generated from its OpenAPI schema (`npm run gen:api`).
import type { components } from "./schema";

type S = components["schemas"];

export type GlobalMetrics = S["GlobalMetrics"];
export type RunStarted = S["RunStarted"];
export type RoundStarted = S["RoundStarted"];
export type ClientUpdate = S["ClientUpdate"];
export type ClientFailed = S["ClientFailed"];
export type RoundCompleted = S["RoundCompleted"];
export type RunFinished = S["RunFinished"];
export type Heartbeat = S["Heartbeat"];
export type MonitorEvent = S["EventBatch"]["events"][number];

export type RunSummary = S["RunSummary"];
export type RunDetail = S["RunDetail"];
export type RoundRow = S["RoundRow"];
export type NodeInfo = S["NodeInfo"];
export type ControlResult = S["ControlResult"];
export type PhaseInfo = S["PhaseInfo"];
export type PhaseLaunch = S["PhaseLaunch"];
export type Comparison = S["Comparison"];
export type ComparisonEntry = S["ComparisonEntry"];
export type AuditEntry = S["AuditEntry"];

export type RunState = RunSummary["state"];
export type NodeState = NodeInfo["state"];
export type Liveness = NodeInfo["liveness"];
