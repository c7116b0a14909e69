// The runs list and the one run the dashboard shows: which run is selected (URL hash, else the active one),
// its live state from the event stream, its control history, and the state a control action just set.
import { useMemo, useState } from "react";
import { api } from "@/api/client";
import type { AuditEntry, RunState, RunSummary } from "@/api/types";
import { toSeconds } from "./format";
import { latestMetrics, type LiveRun } from "./runState";
import { useEventStream, type Connection } from "./useEventStream";
import { usePoll } from "./usePoll";

const RUNS_POLL_MS = 2000;
const AUDIT_POLL_MS = 5000;
/** How long a control action's answer wins over the polled state (the poll catches up within seconds). */
const OVERRIDE_MS = 4000;

/** Newest first, so the run that is happening now is on top. */
export function sortRuns(runs: RunSummary[]): RunSummary[] {
  return [...runs].sort((a, b) => (toSeconds(b.started_at) ?? 0) - (toSeconds(a.started_at) ?? 0));
}

function runFromHash(): string | null {
  const m = window.location.hash.match(/run=([^&]+)/);
  return m ? decodeURIComponent(m[1]) : null;
}

/** The selected run's row follows the event stream too, so the table never lags the live view. */
function withLiveRow(runs: RunSummary[], live: LiveRun | null, selectedId: string | null): RunSummary[] {
  return runs.map((r) => {
    if (!live || r.run_id !== selectedId) return r;
    const m = latestMetrics(live);
    return { ...r, current_round: Math.max(r.current_round ?? 0, live.currentRound), metrics: m.acc != null || m.loss != null ? m : r.metrics };
  });
}

export interface SelectedRun {
  /** Every run, newest first; null until the first answer. */
  runs: RunSummary[] | null;
  runsError: string | null;
  refreshRuns: () => void;
  selectedId: string | null;
  select: (runId: string) => void;
  summary: RunSummary | null;
  live: LiveRun | null;
  /** The run's control state: a control action's answer, else the event stream's end, else the polled one. */
  runState: RunState | null;
  onControlled: (state: RunState) => void;
  audit: AuditEntry[];
  /** The page's connection: the runs poll's when it fails, else the selected run's event stream. */
  connection: Connection;
}

export function useSelectedRun(): SelectedRun {
  const runsPoll = usePoll(api.runs, RUNS_POLL_MS);
  const sorted = useMemo(() => sortRuns(runsPoll.data ?? []), [runsPoll.data]);
  const [chosen, setChosen] = useState<string | null>(runFromHash);
  const selectedId = chosen ?? sorted.find((r) => r.state === "running" || r.state === "paused")?.run_id ?? sorted[0]?.run_id ?? null;
  const summary = sorted.find((r) => r.run_id === selectedId) ?? null;
  const { run: live, connection } = useEventStream(selectedId);
  const auditPoll = usePoll(() => (selectedId ? api.audit(selectedId) : Promise.resolve([])), AUDIT_POLL_MS, [selectedId]);
  const [override, setOverride] = useState<{ runId: string; state: RunState; at: number } | null>(null);
  const runs = useMemo(() => withLiveRow(sorted, live, selectedId), [sorted, live, selectedId]);

  const select = (runId: string) => {
    setChosen(runId);
    window.history.replaceState(null, "", `#run=${encodeURIComponent(runId)}`);
  };
  const onControlled = (state: RunState) => {
    if (selectedId) setOverride({ runId: selectedId, state, at: Date.now() });
    runsPoll.refresh();
    auditPoll.refresh();
  };
  const fresh = override && override.runId === selectedId && Date.now() - override.at < OVERRIDE_MS;
  const runState = fresh ? override.state : live?.finished?.status ?? summary?.state ?? null;

  return {
    runs: runsPoll.data ? runs : null,
    runsError: runsPoll.error,
    refreshRuns: runsPoll.refresh,
    selectedId, select, summary, live, runState, onControlled,
    audit: auditPoll.data ?? [],
    connection: runsPoll.error ? (runsPoll.data ? "reconnecting" : "offline") : selectedId ? connection : "live",
  };
}
