// The dashboard: runs overview, the selected run live (topology, KPIs, curves, controls), phases, comparison.
import { useEffect, useMemo, useState } from "react";
import { api } from "@/api/client";
import type { Liveness, RunState, RunSummary } from "@/api/types";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Button } from "@/components/ui/button";
import { Tabs, TabsContent, TabsList, TabsTrigger } from "@/components/ui/tabs";
import { AuditLog } from "@/components/AuditLog";
import { ComparisonView } from "@/components/ComparisonView";
import { NodeDetail } from "@/components/NodeDetail";
import { PhasesPanel } from "@/components/PhasesPanel";
import { KpiCards, RoundCurves } from "@/components/RunCharts";
import { RunControls } from "@/components/RunControls";
import { EmptyState, RunsOverview } from "@/components/RunsOverview";
import { ConnectionBadge, DataSourceBadge, RunStateBadge } from "@/components/StatusBadges";
import { TokenProvider, useToken } from "@/components/TokenProvider";
import { Topology } from "@/components/Topology";
import { toSeconds } from "@/lib/format";
import { latestMetrics } from "@/lib/runState";
import { usePoll } from "@/lib/usePoll";
import { useEventStream, type Connection } from "@/lib/useEventStream";

function useNow(intervalMs: number): number {
  const [now, setNow] = useState(() => Date.now() / 1000);
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now() / 1000), intervalMs);
    return () => clearInterval(t);
  }, [intervalMs]);
  return now;
}

function runFromHash(): string | null {
  const m = window.location.hash.match(/run=([^&]+)/);
  return m ? decodeURIComponent(m[1]) : null;
}

/** Newest first, so the run that is happening now is on top. */
export function sortRuns(runs: RunSummary[]): RunSummary[] {
  return [...runs].sort((a, b) => (toSeconds(b.started_at) ?? 0) - (toSeconds(a.started_at) ?? 0));
}

function TokenStatus() {
  const { token, ask, forget } = useToken();
  return token ? (
    <Button size="sm" variant="ghost" onClick={forget} title="Forget the token kept for this tab">
      Token set · forget
    </Button>
  ) : (
    <Button size="sm" variant="outline" onClick={ask} data-testid="token-button">
      Enter token
    </Button>
  );
}

function Dashboard() {
  const runsPoll = usePoll(api.runs, 2000);
  const phasesPoll = usePoll(api.phases, 5000);
  const comparisonPoll = usePoll(api.comparison, 15000);
  const now = useNow(1000);
  const runs = useMemo(() => sortRuns(runsPoll.data ?? []), [runsPoll.data]);
  const [chosen, setChosen] = useState<string | null>(runFromHash);
  const selectedId = chosen ?? runs.find((r) => r.state === "running" || r.state === "paused")?.run_id ?? runs[0]?.run_id ?? null;
  const summary = runs.find((r) => r.run_id === selectedId) ?? null;
  const { run: live, connection } = useEventStream(selectedId);
  const detailPoll = usePoll(() => (selectedId ? api.run(selectedId) : Promise.resolve(null)), 3000, [selectedId]);
  const auditPoll = usePoll(() => (selectedId ? api.audit(selectedId) : Promise.resolve([])), 5000, [selectedId]);
  const [stateOverride, setStateOverride] = useState<{ runId: string; state: RunState; at: number } | null>(null);
  const [openNode, setOpenNode] = useState<string | null>(null);

  const select = (id: string) => {
    setChosen(id);
    window.history.replaceState(null, "", `#run=${encodeURIComponent(id)}`);
  };

  // A control action answers with the new state at once; the poll catches up within seconds.
  const polledState = summary?.state ?? null;
  const runState: RunState | null =
    stateOverride && stateOverride.runId === selectedId && Date.now() - stateOverride.at < 4000 ? stateOverride.state : polledState;

  const liveness = useMemo(() => {
    const out: Record<string, Liveness> = {};
    for (const n of detailPoll.data?.nodes ?? []) out[n.node_id] = n.liveness;
    return out;
  }, [detailPoll.data]);

  // The selected run's row follows the WebSocket too, so the table never lags the live view.
  const shownRuns = useMemo(() => runs.map((r) => {
    if (!live || r.run_id !== selectedId) return r;
    const m = latestMetrics(live);
    return { ...r, current_round: Math.max(r.current_round ?? 0, live.currentRound), metrics: m.acc != null || m.loss != null ? m : r.metrics };
  }), [runs, live, selectedId]);

  const overall: Connection = runsPoll.error ? (runsPoll.data ? "reconnecting" : "offline") : selectedId ? connection : "live";

  return (
    <div className="mx-auto flex max-w-7xl flex-col gap-4 p-4">
      <header className="flex flex-wrap items-center justify-between gap-2">
        <div>
          <h1 className="text-xl font-semibold">FedForge monitor</h1>
          <p className="text-sm text-muted-foreground">Federated learning on MedMNIST — live from the telemetry of each phase.</p>
        </div>
        <div className="flex items-center gap-3">
          <ConnectionBadge connection={overall} />
          <TokenStatus />
        </div>
      </header>
      {runsPoll.error && (
        <p role="alert" className="rounded-md border border-red-200 bg-red-50 p-2 text-sm text-red-800" data-testid="api-error">
          {runsPoll.error} Retrying…
        </p>
      )}
      <Tabs defaultValue="runs">
        <TabsList>
          <TabsTrigger value="runs" data-testid="tab-runs">Runs</TabsTrigger>
          <TabsTrigger value="compare" data-testid="tab-compare">Compare phases</TabsTrigger>
        </TabsList>
        <TabsContent value="runs" forceMount className="flex flex-col gap-4 data-[state=inactive]:hidden">
          {runsPoll.data && runs.length === 0 && <EmptyState />}
          {runs.length > 0 && <RunsOverview runs={shownRuns} selected={selectedId} onSelect={select} now={now} />}
          {selectedId && live && (summary || live.eventCount > 0) && (
            <Card data-testid="run-view" data-run-id={selectedId} data-events={live.eventCount}>
              <CardHeader className="flex flex-row flex-wrap items-start justify-between gap-2">
                <div className="grid gap-1">
                  <CardTitle className="flex flex-wrap items-center gap-2">
                    Phase {live.phase || summary?.phase || "?"}
                    <span className="font-normal text-muted-foreground">
                      {live.dataset ?? summary?.dataset ?? ""} · {live.strategy ?? summary?.strategy ?? ""} · {live.engine ?? summary?.engine ?? ""}
                    </span>
                    <DataSourceBadge source={live.dataSource ?? summary?.data_source} />
                    {runState && <RunStateBadge state={runState} />}
                  </CardTitle>
                  <CardDescription className="font-mono text-xs">
                    {selectedId}
                    {live.finished ? ` · finished (${live.finished.status}) · replayed from ${live.eventCount} stored events` : ""}
                    {live.finished?.error ? ` · ${live.finished.error}` : ""}
                  </CardDescription>
                </div>
                {runState && (
                  <RunControls
                    runId={selectedId}
                    state={runState}
                    onChanged={(s) => {
                      setStateOverride({ runId: selectedId, state: s, at: Date.now() });
                      runsPoll.refresh();
                      auditPoll.refresh();
                    }}
                  />
                )}
              </CardHeader>
              <CardContent className="flex flex-col gap-4">
                <KpiCards run={live} now={runState === "running" ? now : undefined} />
                <div className="grid gap-4 lg:grid-cols-5">
                  <section className="lg:col-span-2">
                    <h2 className="mb-2 text-sm font-medium">Topology <span className="font-normal text-muted-foreground">(click a client for details)</span></h2>
                    <Topology run={live} liveness={liveness} onSelect={setOpenNode} />
                  </section>
                  <section className="lg:col-span-3">
                    <RoundCurves run={live} />
                  </section>
                </div>
                <AuditLog entries={auditPoll.data ?? []} />
              </CardContent>
            </Card>
          )}
          <PhasesPanel phases={phasesPoll.data ?? []} error={phasesPoll.error} onStarted={() => { phasesPoll.refresh(); runsPoll.refresh(); }} />
        </TabsContent>
        <TabsContent value="compare">
          <ComparisonView data={comparisonPoll.data} error={comparisonPoll.error} />
        </TabsContent>
      </Tabs>
      <NodeDetail
        node={openNode && live ? live.nodes[openNode] ?? null : null}
        liveness={openNode ? liveness[openNode] : undefined}
        onClose={() => setOpenNode(null)}
      />
    </div>
  );
}

export default function App() {
  return (
    <TokenProvider>
      <Dashboard />
    </TokenProvider>
  );
}
