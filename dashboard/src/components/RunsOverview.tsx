// Every run the monitor knows, newest first: state, data source, progress, latest metrics, elapsed time.
import type { RunSummary } from "@/api/types";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { fmtDuration, fmtMetric, toSeconds } from "@/lib/format";
import { DataSourceBadge, RunStateBadge } from "./StatusBadges";

export function elapsedSeconds(run: RunSummary, now: number): number | null {
  const start = toSeconds(run.started_at);
  if (start == null) return null;
  const active = run.state === "running" || run.state === "paused";
  const end = active ? now : toSeconds(run.finished_at) ?? toSeconds(run.last_event_ts) ?? now;
  return end - start;
}

export function EmptyState() {
  return (
    <Card data-testid="empty-state">
      <CardHeader>
        <CardTitle>No runs yet</CardTitle>
        <CardDescription>Runs appear here as soon as a federated phase sends its first event.</CardDescription>
      </CardHeader>
      <CardContent className="grid gap-2 text-sm">
        <p>Start one from the repository root, with this monitor running:</p>
        <pre className="rounded-md bg-muted p-3 text-xs">{`dvc repro                      # the whole pipeline (phases A, B, C)
fedforge federate --phase A    # or a single phase
fedforge monitor import        # runs recorded while no monitor was running`}</pre>
        <p className="text-muted-foreground">Or use “Start” next to a phase below (needs the monitor token).</p>
      </CardContent>
    </Card>
  );
}

export function RunsOverview({ runs, selected, onSelect, now }: { runs: RunSummary[]; selected: string | null; onSelect: (id: string) => void; now: number }) {
  return (
    <Card>
      <CardHeader>
        <CardTitle>Runs</CardTitle>
      </CardHeader>
      <CardContent>
        <Table data-testid="runs-table">
          <TableHeader>
            <TableRow>
              <TableHead>Phase</TableHead>
              <TableHead>Run</TableHead>
              <TableHead>State</TableHead>
              <TableHead>Data</TableHead>
              <TableHead>Strategy</TableHead>
              <TableHead className="text-right">Round</TableHead>
              <TableHead className="text-right">ACC</TableHead>
              <TableHead className="text-right">AUC</TableHead>
              <TableHead className="text-right">Loss</TableHead>
              <TableHead className="text-right">Elapsed</TableHead>
            </TableRow>
          </TableHeader>
          <TableBody>
            {runs.map((r) => (
              <TableRow
                key={r.run_id}
                data-testid={`run-row-${r.run_id}`}
                data-state={selected === r.run_id ? "selected" : undefined}
                className="cursor-pointer"
                onClick={() => onSelect(r.run_id)}
              >
                <TableCell className="font-medium">{r.phase}</TableCell>
                <TableCell className="max-w-40 truncate font-mono text-xs" title={r.run_id}>{r.run_id}</TableCell>
                <TableCell><RunStateBadge state={r.state} /></TableCell>
                <TableCell><DataSourceBadge source={r.data_source} /></TableCell>
                <TableCell>{r.strategy ?? "—"}</TableCell>
                <TableCell className="text-right tabular-nums">{r.current_round}/{r.num_rounds ?? "?"}</TableCell>
                <TableCell className="text-right tabular-nums">{fmtMetric(r.metrics?.acc)}</TableCell>
                <TableCell className="text-right tabular-nums">{fmtMetric(r.metrics?.auc)}</TableCell>
                <TableCell className="text-right tabular-nums">{fmtMetric(r.metrics?.loss)}</TableCell>
                <TableCell className="text-right tabular-nums">{fmtDuration(elapsedSeconds(r, now))}</TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      </CardContent>
    </Card>
  );
}
