// Final test metrics of every federated phase next to the centralized baselines (GET /api/comparison).
import type { Comparison, ComparisonEntry } from "@/api/types";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { fmtMetric } from "@/lib/format";
import { DataSourceBadge } from "./StatusBadges";

function Row({ e, baseline }: { e: ComparisonEntry; baseline?: ComparisonEntry }) {
  const test = e.test ?? {};
  const base = baseline?.test?.acc;
  const delta = base != null && test.acc != null && e.kind === "federated" ? test.acc - base : null;
  return (
    <TableRow data-testid={`comparison-${e.kind}-${e.name}`}>
      <TableCell className="font-medium">{e.kind === "federated" ? `Phase ${e.name}` : `Centralized ${e.name}`}</TableCell>
      <TableCell>{e.dataset ?? "—"}</TableCell>
      <TableCell>{e.kind === "federated" ? e.strategy ?? "—" : "—"}</TableCell>
      <TableCell><DataSourceBadge source={e.data_source} /></TableCell>
      <TableCell className="text-right tabular-nums">{e.rounds ?? "—"}</TableCell>
      <TableCell className="text-right tabular-nums">{fmtMetric(test.acc)}</TableCell>
      <TableCell className="text-right tabular-nums">{fmtMetric(test.auc)}</TableCell>
      <TableCell className="text-right tabular-nums">{fmtMetric(test.balanced_acc)}</TableCell>
      <TableCell className="text-right tabular-nums">{fmtMetric(test.loss)}</TableCell>
      <TableCell className="text-right tabular-nums">{delta == null ? "—" : `${delta >= 0 ? "+" : ""}${delta.toFixed(3)}`}</TableCell>
      <TableCell className="text-right tabular-nums" data-testid={`comparison-epsilon-${e.name}`}>
        {e.privacy?.epsilon == null ? "—" : `${e.privacy.epsilon.toFixed(2)} (${e.privacy.mode})${e.privacy.budget_stopped ? " budget" : ""}`}
      </TableCell>
    </TableRow>
  );
}

export function ComparisonView({ data, error }: { data: Comparison | null; error: string | null }) {
  const federated = data?.federated ?? [];
  const centralized = data?.centralized ?? [];
  const entries = [...federated, ...centralized];
  const baselineFor = (dataset: string | null | undefined) => centralized.find((c) => c.dataset === dataset || c.name === dataset);
  return (
    <Card>
      <CardHeader>
        <CardTitle>Phase comparison</CardTitle>
        <CardDescription>Final test metrics from each phase's metrics.json and the centralized baselines; Δ ACC is against the centralized model on the same dataset; ε is the privacy budget a DP phase spent.</CardDescription>
      </CardHeader>
      <CardContent>
        {error && <p role="alert" className="text-sm text-destructive">{error}</p>}
        {!entries.length && !error ? (
          <p className="text-sm text-muted-foreground" data-testid="comparison-empty">
            Nothing to compare yet: run <code>dvc repro</code> to produce <code>artifacts/federated/&lt;phase&gt;/metrics.json</code> and the centralized baselines.
          </p>
        ) : (
          <Table data-testid="comparison-table">
            <TableHeader>
              <TableRow>
                <TableHead>Model</TableHead>
                <TableHead>Dataset</TableHead>
                <TableHead>Strategy</TableHead>
                <TableHead>Data</TableHead>
                <TableHead className="text-right">Rounds</TableHead>
                <TableHead className="text-right">ACC</TableHead>
                <TableHead className="text-right">AUC</TableHead>
                <TableHead className="text-right">Bal. ACC</TableHead>
                <TableHead className="text-right">Loss</TableHead>
                <TableHead className="text-right">Δ ACC</TableHead>
                <TableHead className="text-right">ε (DP)</TableHead>
              </TableRow>
            </TableHeader>
            <TableBody>
              {federated.map((e) => <Row key={`f${e.name}`} e={e} baseline={baselineFor(e.dataset)} />)}
              {centralized.map((e) => <Row key={`c${e.name}`} e={e} />)}
            </TableBody>
          </Table>
        )}
      </CardContent>
    </Card>
  );
}
