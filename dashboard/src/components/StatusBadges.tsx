import type { RunState } from "@/api/types";
import { Badge } from "@/components/ui/badge";
import type { Connection } from "@/lib/useEventStream";

const RUN_VARIANT: Record<RunState, "info" | "warning" | "secondary" | "success" | "destructive"> = {
  running: "info",
  paused: "warning",
  stopped: "secondary",
  completed: "success",
  failed: "destructive",
};

export function RunStateBadge({ state }: { state: RunState }) {
  return <Badge variant={RUN_VARIANT[state] ?? "outline"} data-testid="run-state">{state}</Badge>;
}

export function DataSourceBadge({ source }: { source: string | null | undefined }) {
  if (source === "synthetic") {
    return (
      <Badge variant="warning" title="Generated stand-in for MedMNIST: numbers are not clinical results">
        synthetic data
      </Badge>
    );
  }
  return source ? <Badge variant="outline">{source}</Badge> : null;
}

const CONNECTION_STYLE: Record<Connection, { label: string; dot: string }> = {
  connecting: { label: "connecting", dot: "bg-zinc-400" },
  live: { label: "live", dot: "bg-emerald-500" },
  reconnecting: { label: "reconnecting", dot: "bg-amber-500 animate-pulse" },
  offline: { label: "offline", dot: "bg-red-600" },
};

export function ConnectionBadge({ connection }: { connection: Connection }) {
  const style = CONNECTION_STYLE[connection];
  return (
    <span className="flex items-center gap-1.5 text-sm" data-testid="connection" data-connection={connection} aria-live="polite">
      <span className={`inline-block size-2.5 rounded-full ${style.dot}`} />
      {style.label}
    </span>
  );
}
