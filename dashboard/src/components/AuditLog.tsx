// Who paused, resumed, stopped or restarted the run, refused attempts included (GET /api/runs/{id}/audit).
import type { AuditEntry } from "@/api/types";

export function AuditLog({ entries }: { entries: AuditEntry[] }) {
  if (!entries.length) return null;
  return (
    <details className="text-sm" data-testid="audit-log">
      <summary className="cursor-pointer text-muted-foreground">Control history ({entries.length})</summary>
      <ul className="mt-1 grid gap-0.5 font-mono text-xs">
        {entries.map((a, i) => (
          <li key={i} className={a.accepted ? undefined : "text-destructive"}>
            {new Date(a.ts * 1000).toLocaleTimeString()} {a.action}: {a.previous} → {a.state}
            {a.accepted ? "" : " (refused)"} · {a.origin}
          </li>
        ))}
      </ul>
    </details>
  );
}
