// Node liveness (online / stale / lost) from the folded event stream, so the dashboard needs no poll for it.
// The same rule as the monitor's GET /api/runs/{id} (fedforge/monitor routes/runs.py: liveness, liveness_clock);
// tests/dashboard/test_fold_parity.py checks that the thresholds below equal the monitor's settings.
import type { Liveness } from "@/api/types";
import type { LiveRun } from "./runState";

/** The server beats every ~5 s, so one missed beat is still "online" (monitor settings STALE_AFTER_S). */
export const STALE_AFTER_S = 15;
/** Silent this long: the node is gone (monitor settings LOST_AFTER_S). */
export const LOST_AFTER_S = 60;

/** online / stale / lost by the age of the last event that proves the node alive. */
export function liveness(lastSeen: number | null, clock: number): Liveness {
  const age = lastSeen == null ? Infinity : clock - lastSeen;
  return age < STALE_AFTER_S ? "online" : age < LOST_AFTER_S ? "stale" : "lost";
}

/** Ages are measured at now while the run goes on, at its end once it finished (so an old run is not "all lost"). */
export function livenessClock(run: LiveRun, now: number): number {
  const end = run.finished ? run.finished.ts : null;
  return end == null ? now : Math.min(end, now);
}

export function nodeLiveness(run: LiveRun, now: number): Record<string, Liveness> {
  const clock = livenessClock(run, now);
  const out: Record<string, Liveness> = {};
  for (const node of Object.values(run.nodes)) out[node.id] = liveness(node.lastSeen, clock);
  return out;
}
