// The selected run live: title and controls, KPIs, topology with liveness, curves, node list, control history,
// node detail.
import { useMemo, useState } from "react";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { nodeLiveness } from "@/lib/liveness";
import type { SelectedRun } from "@/lib/useSelectedRun";
import { AuditLog } from "./AuditLog";
import { NodeDetail } from "./NodeDetail";
import { NodeList } from "./NodeList";
import { KpiCards, RoundCurves } from "./RunCharts";
import { RunControls } from "./RunControls";
import { DataSourceBadge, RunStateBadge } from "./StatusBadges";
import { Topology } from "./Topology";

export function RunView({ selected, now }: { selected: SelectedRun; now: number }) {
  const { selectedId, summary, live, runState, onControlled, audit } = selected;
  const [openNode, setOpenNode] = useState<string | null>(null);
  const liveness = useMemo(() => (live ? nodeLiveness(live, now) : {}), [live, now]);
  if (!selectedId || !live || (!summary && live.eventCount === 0)) return null;
  return (
    <>
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
          {runState && <RunControls runId={selectedId} state={runState} onChanged={onControlled} />}
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
          <NodeList run={live} liveness={live.finished ? undefined : liveness} onSelect={setOpenNode} />
          <AuditLog entries={audit} />
        </CardContent>
      </Card>
      <NodeDetail
        node={openNode ? live.nodes[openNode] ?? null : null}
        liveness={openNode ? liveness[openNode] : undefined}
        onClose={() => setOpenNode(null)}
      />
    </>
  );
}
