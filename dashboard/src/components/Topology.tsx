// Server + clients as an SVG graph: fill = node state, ring = liveness, animated edge = this round's traffic,
// faded = not sampled for the current round (fraction_train < 1), with "sampled k/N" above the graph.
import { memo, type KeyboardEvent } from "react";
import type { Liveness, NodeState } from "@/api/types";
import { currentSampling, type LiveRun, type NodeView } from "@/lib/runState";

export const STATE_COLOURS: Record<NodeState, string> = {
  idle: "#a1a1aa",
  training: "#2563eb",
  evaluating: "#9333ea",
  failed: "#dc2626",
};

const W = 460;
const H = 290;
const SERVER = { x: W / 2, y: 56 };

// Above this many hospitals the graph becomes a grid of small dots (ids in tooltips, edges only for traffic):
// 100 labelled circles in one row are an unreadable smear.
export const GRID_ABOVE = 12;
const GRID_COLUMNS = 20;

function clientPosition(i: number, n: number) {
  if (n > GRID_ABOVE) {  // rows of GRID_COLUMNS dots under the server, in partition order
    const cols = Math.min(n, GRID_COLUMNS);
    return { x: (W * ((i % cols) + 1)) / (cols + 1), y: 136 + Math.floor(i / cols) * 28 };
  }
  // Clients in one row under the server, evenly spaced; alternate rows lift a little when crowded.
  const x = (W * (i + 1)) / (n + 1);
  const y = 216 - (n > 5 && i % 2 ? 56 : 0);
  return { x, y };
}

const Node = memo(NodeView);

// A client left out of the current round's sample is drawn this faint (a lost node at 0.5).
const NOT_SAMPLED_OPACITY = 0.25;

interface NodeProps {
  node: NodeView;
  x: number;
  y: number;
  liveness: Liveness;
  onSelect?: (id: string) => void;
  compact?: boolean;
  /** In the current round's sample; undefined when that is unknown (or for the server). */
  sampled?: boolean;
}

function NodeView({ node, x, y, liveness, onSelect, compact = false, sampled }: NodeProps) {
  const r = node.kind === "server" ? 32 : compact ? 8 : 26;
  const ring = liveness === "lost" ? "#dc2626" : liveness === "stale" ? "#f59e0b" : "transparent";
  const caption = `${node.state}${liveness !== "online" ? ` · ${liveness}` : ""}${sampled === false ? " · not sampled" : ""}`;
  const groupProps = {
    "data-testid": `topology-node-${node.id}`,
    "data-state": node.state,
    "data-liveness": liveness,
    "data-sampled": sampled === undefined ? "unknown" : String(sampled),
    transform: `translate(${x},${y})`,
    className: onSelect ? "cursor-pointer" : undefined,
    onClick: () => onSelect?.(node.id),
    role: onSelect ? "button" : undefined,
    tabIndex: onSelect ? 0 : undefined,
    onKeyDown: (e: KeyboardEvent) => (e.key === "Enter" || e.key === " ") && onSelect?.(node.id),
    "aria-label": `${node.id}: ${caption.replaceAll(" · ", ", ")}`,
    opacity: sampled === false ? NOT_SAMPLED_OPACITY : liveness === "lost" ? 0.5 : 1,
  };
  if (compact) {
    return (
      <g {...groupProps}>
        <title>{`${node.id}: ${caption}`}</title>
        <circle r={r + 3} fill="none" stroke={ring} strokeWidth={2} />
        <circle r={r} fill={STATE_COLOURS[node.state]} />
      </g>
    );
  }
  return (
    <g {...groupProps}>
      <circle r={r + 5} fill="none" stroke={ring} strokeWidth={3} strokeDasharray={liveness === "online" ? undefined : "5 3"} />
      <circle r={r} fill={STATE_COLOURS[node.state]} />
      <text y={5} textAnchor="middle" className="fill-white text-[13px] font-semibold">
        {node.kind === "server" ? "server" : node.id.replace("client_", "C")}
      </text>
      {/* The server's caption sits to its right, clear of the edges that leave it downwards. */}
      <text x={node.kind === "server" ? r + 12 : 0} y={node.kind === "server" ? -2 : r + 19} textAnchor={node.kind === "server" ? "start" : "middle"} className="fill-foreground text-[13px]">
        {node.kind === "server" ? "aggregator" : node.id}
      </text>
      <text x={node.kind === "server" ? r + 12 : 0} y={node.kind === "server" ? 14 : r + 34} textAnchor={node.kind === "server" ? "start" : "middle"} className="fill-muted-foreground text-[12px]">
        {caption}
      </text>
    </g>
  );
}

interface TopologyProps {
  run: LiveRun;
  liveness?: Record<string, Liveness>;
  onSelect?: (id: string) => void;
}

function sameLiveness(a: Record<string, Liveness> = {}, b: Record<string, Liveness> = {}): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

// Heartbeats and rounds change other parts of the run: redraw only when what the graph shows changed.
export const Topology = memo(TopologyView, (a, b) =>
  a.run.nodes === b.run.nodes && a.run.clientOrder === b.run.clientOrder && a.run.finished === b.run.finished &&
  a.run.rounds === b.run.rounds && a.run.currentRound === b.run.currentRound &&
  a.onSelect === b.onSelect && sameLiveness(a.liveness, b.liveness));

function TopologyView({ run, liveness = {}, onSelect }: TopologyProps) {
  const clients = run.clientOrder;
  const active = !run.finished;
  const compact = clients.length > GRID_ABOVE;
  const rows = Math.ceil(clients.length / GRID_COLUMNS);
  const height = compact ? Math.max(H, 136 + rows * 28) : H;
  const sampling = currentSampling(run);
  const sampled = sampling ? new Set(sampling.clients) : null;
  return (
    <div className="flex flex-col gap-2" data-testid="topology-panel">
      {sampling && (
        <p className="text-xs text-muted-foreground">
          Round {sampling.round}:{" "}
          <span className="font-medium text-foreground" data-testid="sampled-count">
            sampled {sampling.clients.length}/{clients.length}
          </span>
          {sampling.clients.length < clients.length ? " · the faded ones sit this round out" : ""}
        </p>
      )}
      <svg viewBox={`0 0 ${W} ${height}`} className="w-full" role="img" aria-label="federation topology" data-testid="topology" data-layout={compact ? "grid" : "row"}>
        {clients.map((id, i) => {
          const p = clientPosition(i, clients.length);
          const traffic = active ? run.nodes[id]?.traffic : null;
          if (compact && !traffic) return null;  // a grid draws only the edges that carry traffic now
          return (
            <line
              key={`edge-${id}`}
              data-testid={`topology-edge-${id}`}
              data-traffic={traffic ?? "none"}
              x1={SERVER.x}
              y1={SERVER.y}
              x2={p.x}
              y2={p.y}
              stroke={traffic ? (traffic === "down" ? "#2563eb" : "#16a34a") : "#d4d4d8"}
              strokeWidth={traffic ? (compact ? 1 : 3) : 1.5}
              strokeOpacity={compact ? 0.5 : 1}
              // Flowing dashes repaint the whole SVG every frame (the main thread's biggest cost at 100
              // hospitals, benchmarks/dashboard_responsiveness.py): the grid shows direction by colour only.
              className={traffic && !compact ? `edge-active edge-${traffic}` : undefined}
            />
          );
        })}
        <Node node={run.nodes.server} x={SERVER.x} y={SERVER.y} liveness={active ? liveness.server ?? "online" : "online"} />
        {clients.map((id, i) => {
          const p = clientPosition(i, clients.length);
          return (
            <Node key={id} node={run.nodes[id]} x={p.x} y={p.y} liveness={active ? liveness[id] ?? "online" : "online"} onSelect={onSelect} compact={compact} sampled={sampled ? sampled.has(id) : undefined} />
          );
        })}
      </svg>
      <div className="flex flex-wrap gap-3 text-xs text-muted-foreground">
        {(Object.keys(STATE_COLOURS) as NodeState[]).map((s) => (
          <span key={s} className="flex items-center gap-1">
            <span className="inline-block size-2.5 rounded-full" style={{ background: STATE_COLOURS[s] }} />
            {s}
          </span>
        ))}
        <span className="flex items-center gap-1"><span className="inline-block size-2.5 rounded-full border-2 border-dashed border-amber-500" />stale</span>
        <span className="flex items-center gap-1"><span className="inline-block size-2.5 rounded-full border-2 border-dashed border-red-600" />lost</span>
        <span className="flex items-center gap-1"><span className="inline-block size-2.5 rounded-full bg-zinc-400 opacity-25" />not sampled this round</span>
        <span className="flex items-center gap-1"><span className="inline-block h-0.5 w-4 bg-blue-600" />model to client</span>
        <span className="flex items-center gap-1"><span className="inline-block h-0.5 w-4 bg-green-600" />update to server</span>
      </div>
    </div>
  );
}
