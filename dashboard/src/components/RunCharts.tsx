// KPI cards and per-round curves of one run, drawn from the folded event stream.
import { memo } from "react";
import { Card, CardContent, CardHeader, CardTitle } from "@/components/ui/card";
import { fmtDuration, fmtMetric } from "@/lib/format";
import { completedRounds, latestMetrics, type LiveRun } from "@/lib/runState";
import { LineChart, type Series } from "./LineChart";

export const PALETTE = ["#2563eb", "#16a34a", "#ea580c", "#9333ea", "#0891b2", "#db2777", "#65a30d", "#ca8a04", "#4f46e5", "#dc2626"];

function Kpi({ label, value, testId, hint }: { label: string; value: string; testId: string; hint?: string }) {
  return (
    <Card className="gap-1 py-3">
      <CardHeader className="px-3">
        <CardTitle className="text-xs font-medium text-muted-foreground">{label}</CardTitle>
      </CardHeader>
      <CardContent className="px-3">
        <div className="text-2xl font-semibold tabular-nums" data-testid={testId}>{value}</div>
        {hint && <div className="text-xs text-muted-foreground">{hint}</div>}
      </CardContent>
    </Card>
  );
}

export function KpiCards({ run, now }: { run: LiveRun; now?: number }) {
  const done = completedRounds(run);
  const last = done[done.length - 1];
  const m = latestMetrics(run);
  const h = last?.hospitals;
  const throughput = last && last.seconds ? last.num_examples / last.seconds : null;
    // A live run's clock keeps ticking between events; a finished one ends at its last event.
  const end = run.finished || now == null ? run.lastTs : Math.max(now, run.lastTs ?? now);
  const elapsed = run.startedAt != null && end != null ? end - run.startedAt : null;
  return (
    <div className="grid grid-cols-2 gap-3 md:grid-cols-4 xl:grid-cols-9">
      <Kpi label="Round" value={`${run.currentRound}/${run.numRounds ?? "?"}`} testId="kpi-round" hint={`${done.length} completed`} />
      <Kpi label="Test ACC" value={fmtMetric(m.acc)} testId="kpi-acc" />
      <Kpi label="Test AUC" value={fmtMetric(m.auc)} testId="kpi-auc" />
      <Kpi label="Test loss" value={fmtMetric(m.loss)} testId="kpi-loss" />
      <Kpi label="Hospital ACC" value={fmtMetric(h?.acc_mean)} testId="kpi-hospital-acc"
        hint={`mean of local val; worst ${fmtMetric(h?.acc_worst)}`} />
      <Kpi label="Hospital bal. ACC" value={fmtMetric(h?.balanced_acc_mean)} testId="kpi-hospital-balanced-acc"
        hint={`mean of local val; worst ${fmtMetric(h?.balanced_acc_worst)}`} />
      <Kpi label="Throughput" value={throughput == null ? "—" : `${throughput.toFixed(0)}/s`} testId="kpi-throughput" hint="examples per second, last round" />
      <Kpi label="Privacy ε" value={last?.epsilon == null ? "off" : last.epsilon.toFixed(2)} testId="kpi-epsilon" hint={last?.epsilon == null ? "no differential privacy" : "DP budget spent so far"} />
      <Kpi label="Elapsed" value={fmtDuration(elapsed)} testId="kpi-elapsed" hint={`${run.eventCount} events`} />
    </div>
  );
}

// Up to this many hospitals each gets its own train-loss line; above it, mean / best / worst per round
// (100 lines and a 100-name legend say nothing).
export const CURVES_PER_CLIENT_UP_TO = 10;

function clientLossSeries(run: LiveRun): Series[] {
  if (run.clientOrder.length <= CURVES_PER_CLIENT_UP_TO) {
    return run.clientOrder.map((id, i) => ({
      name: id,
      color: PALETTE[i % PALETTE.length],
      points: run.rounds.filter((r) => r.client_train_loss[id] != null).map((r) => ({ x: r.round, y: r.client_train_loss[id] })),
    }));
  }
  const perRound = run.rounds
    .map((r) => ({ x: r.round, losses: Object.values(r.client_train_loss).filter((v) => Number.isFinite(v)) }))
    .filter((r) => r.losses.length > 0);
  const summary = (name: string, color: string, of: (v: number[]) => number): Series => ({
    name, color, points: perRound.map((r) => ({ x: r.x, y: of(r.losses) })),
  });
  return [
    summary("mean", PALETTE[0], (v) => v.reduce((a, b) => a + b, 0) / v.length),
    summary("lowest", PALETTE[1], (v) => Math.min(...v)),
    summary("highest", PALETTE[9], (v) => Math.max(...v)),
  ];
}

export const RoundCurves = memo(RoundCurvesView, (a, b) => a.run.rounds === b.run.rounds && a.run.clientOrder === b.run.clientOrder);

function RoundCurvesView({ run }: { run: LiveRun }) {
  const done = completedRounds(run);
  const metric = (key: "acc" | "auc" | "balanced_acc" | "loss") =>
    done.filter((r) => r.metrics[key] != null).map((r) => ({ x: r.round, y: r.metrics[key] as number }));
  const perClient = clientLossSeries(run);
  const summarised = run.clientOrder.length > CURVES_PER_CLIENT_UP_TO;
  return (
    <div className="grid gap-4 md:grid-cols-2" data-testid="curves">
      <LineChart
        title="Global test ACC / AUC"
        testId="chart-accuracy"
        series={[
          { name: "ACC", color: PALETTE[0], points: metric("acc") },
          { name: "AUC", color: PALETTE[1], points: metric("auc") },
          { name: "balanced ACC", color: PALETTE[2], points: metric("balanced_acc") },
        ]}
      />
      <LineChart title="Global test loss" testId="chart-loss" series={[{ name: "loss", color: PALETTE[3], points: metric("loss") }]} />
      <LineChart
        title={summarised ? `Client train loss (${run.clientOrder.length} hospitals: mean, lowest, highest)` : "Client train loss"}
        testId="chart-client-loss"
        series={perClient}
      />
      <LineChart
        title="Round duration"
        testId="chart-duration"
        yLabel="seconds"
        series={[{ name: "seconds", color: PALETTE[4], points: done.filter((r) => r.seconds != null).map((r) => ({ x: r.round, y: r.seconds as number })) }]}
      />
    </div>
  );
}
