// One client's partition, label histogram, per-round metrics and failures.
import { Dialog, DialogContent, DialogDescription, DialogHeader, DialogTitle } from "@/components/ui/dialog";
import { Badge } from "@/components/ui/badge";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { fmtMetric } from "@/lib/format";
import type { NodeView } from "@/lib/runState";
import type { Liveness } from "@/api/types";
import { Histogram } from "./LineChart";
import { STATE_COLOURS } from "./Topology";

export function NodeDetail({ node, liveness, onClose }: { node: NodeView | null; liveness?: Liveness; onClose: () => void }) {
  const metricKeys = node ? Array.from(new Set(node.history.flatMap((h) => Object.keys(h.metrics)))).sort() : [];
  return (
    <Dialog open={node !== null} onOpenChange={(o) => !o && onClose()}>
      <DialogContent className="sm:max-w-3xl" data-testid="node-detail">
        {node && (
          <>
            <DialogHeader>
              <DialogTitle className="flex items-center gap-2">
                {node.id}
                <Badge style={{ background: STATE_COLOURS[node.state] }} className="text-white">{node.state}</Badge>
                {liveness && liveness !== "online" && <Badge variant="warning">{liveness}</Badge>}
              </DialogTitle>
              <DialogDescription>
                Partition size: <span data-testid="node-partition-size">{node.partitionSize ?? "unknown"}</span> training examples ·{" "}
                {node.failures.length} failure{node.failures.length === 1 ? "" : "s"}
              </DialogDescription>
            </DialogHeader>
            <section>
              <h3 className="mb-1 text-sm font-medium">Label histogram</h3>
              {node.labelHistogram.length ? (
                <Histogram counts={node.labelHistogram} testId="node-histogram" />
              ) : (
                <p className="text-sm text-muted-foreground">Not reported by this run.</p>
              )}
            </section>
            <section>
              <h3 className="mb-1 text-sm font-medium">Per-round metrics</h3>
              {node.history.length ? (
                <Table data-testid="node-history">
                  <TableHeader>
                    <TableRow>
                      <TableHead>Round</TableHead>
                      <TableHead>Stage</TableHead>
                      <TableHead className="text-right">Examples</TableHead>
                      <TableHead className="text-right">Train loss</TableHead>
                      {metricKeys.map((k) => <TableHead key={k} className="text-right">{k}</TableHead>)}
                      <TableHead className="text-right">Seconds</TableHead>
                    </TableRow>
                  </TableHeader>
                  <TableBody>
                    {node.history.map((h, i) => (
                      <TableRow key={i}>
                        <TableCell>{h.round}</TableCell>
                        <TableCell>{h.stage}</TableCell>
                        <TableCell className="text-right tabular-nums">{h.num_examples}</TableCell>
                        <TableCell className="text-right tabular-nums">{fmtMetric(h.train_loss, 4)}</TableCell>
                        {metricKeys.map((k) => <TableCell key={k} className="text-right tabular-nums">{fmtMetric(h.metrics[k])}</TableCell>)}
                        <TableCell className="text-right tabular-nums">{fmtMetric(h.seconds, 2)}</TableCell>
                      </TableRow>
                    ))}
                  </TableBody>
                </Table>
              ) : (
                <p className="text-sm text-muted-foreground">No updates from this client yet.</p>
              )}
            </section>
            <section>
              <h3 className="mb-1 text-sm font-medium">Failures</h3>
              {node.failures.length ? (
                <ul className="grid gap-1 text-sm" data-testid="node-failures">
                  {node.failures.map((f, i) => (
                    <li key={i} className="rounded-md border border-red-200 bg-red-50 p-2">
                      Round {f.round} ({f.stage}): <span className="font-mono text-xs">{f.error}</span>
                    </li>
                  ))}
                </ul>
              ) : (
                <p className="text-sm text-muted-foreground">None.</p>
              )}
            </section>
          </>
        )}
      </DialogContent>
    </Dialog>
  );
}
