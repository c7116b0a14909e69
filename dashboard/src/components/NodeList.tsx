// Every hospital of the run as a table that still works at 100: filter by id or state (or in / out of the
// current round's sample), sort by id, state, size, last train loss or val ACC; a row opens the client's detail.
import { memo, useMemo, useState } from "react";
import type { Liveness, NodeState } from "@/api/types";
import { Input } from "@/components/ui/input";
import { TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { fmtMetric } from "@/lib/format";
import { currentSampling, type LiveRun, type NodeView } from "@/lib/runState";
import { STATE_COLOURS } from "./Topology";

export interface NodeRow {
  id: string;
  state: NodeState;
  /** In the current round's sample; null when that is unknown. */
  sampled: boolean | null;
  size: number | null;
  lastLoss: number | null;
  valAcc: number | null;
}

export type SortKey = "id" | "state" | "size" | "lastLoss" | "valAcc";
export type StateFilter = "all" | NodeState | "sampled" | "not-sampled";

const COLUMNS: { key: SortKey; label: string; numeric?: boolean }[] = [
  { key: "id", label: "Client" },
  { key: "state", label: "State" },
  { key: "size", label: "Size", numeric: true },
  { key: "lastLoss", label: "Last train loss", numeric: true },
  { key: "valAcc", label: "Val ACC", numeric: true },
];
const FILTERS: StateFilter[] = ["all", "idle", "training", "evaluating", "failed", "sampled", "not-sampled"];
const byId = new Intl.Collator(undefined, { numeric: true }).compare; // client_2 before client_10

/** The newest value of `pick` in a client's history (its last train loss, its last val ACC). */
function newest(node: NodeView, pick: (step: NodeView["history"][number]) => number | null | undefined): number | null {
  for (let i = node.history.length - 1; i >= 0; i--) {
    const v = pick(node.history[i]);
    if (v != null && Number.isFinite(v)) return v;
  }
  return null;
}

/** One row per client, in partition order. Val ACC: the client's own val split (eval_acc; `acc` in older runs). */
export function nodeRows(run: LiveRun): NodeRow[] {
  const sampling = currentSampling(run);
  const sampled = sampling ? new Set(sampling.clients) : null;
  return run.clientOrder.map((id) => {
    const n = run.nodes[id];
    return {
      id, state: n.state, sampled: sampled ? sampled.has(id) : null, size: n.partitionSize,
      lastLoss: newest(n, (h) => (h.stage === "train" ? h.train_loss : null)),
      valAcc: newest(n, (h) => (h.stage === "evaluate" ? h.metrics.eval_acc ?? h.metrics.acc : null)),
    };
  });
}

/** Rows whose id contains `query` (case-insensitive) and that pass the state filter. */
export function filterRows(rows: NodeRow[], query: string, state: StateFilter): NodeRow[] {
  const q = query.trim().toLowerCase();
  return rows.filter((r) => (!q || r.id.toLowerCase().includes(q)) && (
    state === "all" || (state === "sampled" ? r.sampled === true : state === "not-sampled" ? r.sampled === false : r.state === state)));
}

/** Sorted copy; unknown values (no loss yet, no size) go last in either direction, ties by id. */
export function sortRows(rows: NodeRow[], key: SortKey, descending: boolean): NodeRow[] {
  const sign = descending ? -1 : 1;
  return [...rows].sort((a, b) => {
    const x = a[key];
    const y = b[key];
    if (x == null || y == null) return x == null && y == null ? byId(a.id, b.id) : x == null ? 1 : -1;
    const c = typeof x === "number" && typeof y === "number" ? x - y : byId(String(x), String(y));
    return c !== 0 ? sign * c : byId(a.id, b.id);
  });
}

interface RowProps { row: NodeRow; liveness: Liveness; onSelect?: (id: string) => void }

// Rows are rebuilt on every event; a row whose values did not change is not redrawn.
const sameRow = (a: RowProps, b: RowProps) => a.liveness === b.liveness && a.onSelect === b.onSelect &&
  (Object.keys(a.row) as (keyof NodeRow)[]).every((k) => a.row[k] === b.row[k]);

const Row = memo(function Row({ row, liveness, onSelect }: RowProps) {
  return (
    <TableRow data-testid={`node-row-${row.id}`} data-state={row.state} data-sampled={row.sampled ?? "unknown"}
      className={onSelect ? "cursor-pointer" : undefined} onClick={() => onSelect?.(row.id)}
      tabIndex={onSelect ? 0 : undefined} onKeyDown={(e) => e.key === "Enter" && onSelect?.(row.id)}>
      <TableCell className="font-mono text-xs">{row.id}</TableCell>
      <TableCell>
        <span className="inline-flex items-center gap-1.5">
          <span className="inline-block size-2.5 rounded-full" style={{ background: STATE_COLOURS[row.state] }} />
          {row.state}
          {liveness !== "online" && <span className="text-amber-700">· {liveness}</span>}
          {row.sampled === false && <span className="text-muted-foreground">· not sampled</span>}
        </span>
      </TableCell>
      <TableCell className="text-right tabular-nums">{row.size ?? "—"}</TableCell>
      <TableCell className="text-right tabular-nums">{fmtMetric(row.lastLoss, 4)}</TableCell>
      <TableCell className="text-right tabular-nums">{fmtMetric(row.valAcc)}</TableCell>
    </TableRow>
  );
}, sameRow);

export function NodeList({ run, liveness = {}, onSelect }: { run: LiveRun; liveness?: Record<string, Liveness>; onSelect?: (id: string) => void }) {
  const [query, setQuery] = useState("");
  const [state, setState] = useState<StateFilter>("all");
  const [sort, setSort] = useState<{ key: SortKey; descending: boolean }>({ key: "id", descending: false });
  const rows = useMemo(() => nodeRows(run), [run.nodes, run.clientOrder, run.rounds, run.currentRound]);
  const shown = useMemo(() => sortRows(filterRows(rows, query, state), sort.key, sort.descending), [rows, query, state, sort]);
  const sampled = rows.filter((r) => r.sampled).length;
  const toggle = (key: SortKey) => setSort((s) => ({ key, descending: s.key === key ? !s.descending : false }));
  return (
    <section data-testid="node-list" data-rows={shown.length} className="flex flex-col gap-2">
      <div className="flex flex-wrap items-center gap-2">
        <h2 className="text-sm font-medium">
          Hospitals <span className="font-normal text-muted-foreground">
            ({shown.length} of {rows.length} shown{rows.some((r) => r.sampled != null) ? ` · ${sampled} sampled this round` : ""})
          </span>
        </h2>
        <Input aria-label="filter clients by id" placeholder="Filter by client id…" value={query}
          onChange={(e) => setQuery(e.target.value)} className="h-8 w-48" data-testid="node-filter" />
        <select aria-label="filter clients by state" value={state} onChange={(e) => setState(e.target.value as StateFilter)}
          className="h-8 rounded-md border border-input bg-transparent px-2 text-sm" data-testid="node-state-filter">
          {FILTERS.map((f) => <option key={f} value={f}>{f === "all" ? "any state" : f.replace("-", " ")}</option>)}
        </select>
      </div>
      {/* A plain table (the ui Table adds its own scroll box): the header sticks to the top of this one. */}
      <div className="max-h-96 overflow-y-auto rounded-md border">
        <table className="w-full text-sm">
          <TableHeader className="sticky top-0 bg-background">
            <TableRow>
              {COLUMNS.map((c) => (
                <TableHead key={c.key} className={c.numeric ? "text-right" : undefined}
                  aria-sort={sort.key === c.key ? (sort.descending ? "descending" : "ascending") : "none"}>
                  <button type="button" onClick={() => toggle(c.key)} data-testid={`node-sort-${c.key}`} className="hover:text-foreground">
                    {c.label}{sort.key === c.key ? (sort.descending ? " ▼" : " ▲") : ""}
                  </button>
                </TableHead>
              ))}
            </TableRow>
          </TableHeader>
          <TableBody>
            {shown.map((r) => <Row key={r.id} row={r} liveness={liveness[r.id] ?? "online"} onSelect={onSelect} />)}
          </TableBody>
        </table>
        {shown.length === 0 && <p className="p-3 text-sm text-muted-foreground">No client matches.</p>}
      </div>
    </section>
  );
}
