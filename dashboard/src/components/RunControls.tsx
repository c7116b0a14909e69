// Pause / resume / stop for a run; enabled only where the state allows it (a tooltip says why not), errors in words.
import { useState } from "react";
import { Pause, Play, Square } from "lucide-react";
import { api } from "@/api/client";
import type { RunState } from "@/api/types";
import { Button } from "@/components/ui/button";
import { useToken } from "./TokenProvider";

type Action = "pause" | "resume" | "stop";

export const ALLOWED: Record<Action, RunState[]> = {
  pause: ["running"],
  resume: ["paused"],
  stop: ["running", "paused"],
};

const FINISHED: RunState[] = ["completed", "failed", "stopped"];

/** Why `action` cannot apply to a run in `state`, in words for the button's tooltip; null when it can. */
export function whyNot(action: Action, state: RunState): string | null {
  if (ALLOWED[action].includes(state)) return null;
  if (FINISHED.includes(state)) return `run ${state}: nothing to ${action}`;
  return action === "pause" ? `run ${state}: already paused` : `run ${state}: not paused`;
}

export function RunControls({ runId, state, onChanged }: { runId: string; state: RunState; onChanged: (s: RunState) => void }) {
  const { withToken } = useToken();
  const [busy, setBusy] = useState<Action | null>(null);
  const [error, setError] = useState<string | null>(null);

  const act = (action: Action) =>
    withToken(async (token) => {
      setBusy(action);
      setError(null);
      try {
        const result = await api.control(runId, action, token);
        onChanged(result.state);
      } catch (e) {
        setError(e instanceof Error ? e.message : String(e));
        if (e instanceof Error && "status" in e && e.status === 401) throw e;
      } finally {
        setBusy(null);
      }
    });

  const button = (action: Action, label: string, icon: React.ReactNode, variant: "outline" | "destructive" = "outline") => {
    const reason = whyNot(action, state) ?? (busy !== null ? "waiting for the monitor's answer" : null);
    return (
      <Button
        size="sm"
        variant={variant}
        disabled={reason !== null}
        title={reason ?? undefined}
        // A disabled button still takes the pointer, so its tooltip shows.
        className="disabled:pointer-events-auto disabled:cursor-not-allowed"
        onClick={() => act(action)}
        data-testid={`control-${action}`}
      >
        {icon}
        {busy === action ? `${label}…` : label}
      </Button>
    );
  };

  return (
    <div className="flex flex-col items-end gap-1">
      <div className="flex gap-2">
        {button("pause", "Pause", <Pause />)}
        {button("resume", "Resume", <Play />)}
        {button("stop", "Stop", <Square />, "destructive")}
      </div>
      {error && <p role="alert" className="max-w-md text-right text-sm text-destructive" data-testid="control-error">{error}</p>}
    </div>
  );
}
