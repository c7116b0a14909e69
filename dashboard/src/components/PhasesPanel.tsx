// The phases in params.yaml, each with its latest run and a Start button (POST /api/phases/{phase}/start).
import { useState } from "react";
import { Play } from "lucide-react";
import { api } from "@/api/client";
import type { PhaseInfo } from "@/api/types";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { RunStateBadge } from "./StatusBadges";
import { useToken } from "./TokenProvider";

export function PhasesPanel({ phases, error, onStarted }: { phases: PhaseInfo[]; error: string | null; onStarted: () => void }) {
  const { withToken } = useToken();
  const [busy, setBusy] = useState<string | null>(null);
  const [message, setMessage] = useState<{ text: string; ok: boolean } | null>(null);
  const anyRunning = phases.some((p) => p.launched || p.latest_state === "running" || p.latest_state === "paused");

  const start = (phase: string) =>
    withToken(async (token) => {
      setBusy(phase);
      setMessage(null);
      try {
        await api.startPhase(phase, token);
        setMessage({ text: `Started \`dvc repro federate@${phase}\`; its run appears above within seconds.`, ok: true });
        onStarted();
      } catch (e) {
        setMessage({ text: e instanceof Error ? e.message : String(e), ok: false });
        if (e instanceof Error && "status" in e && e.status === 401) throw e;
      } finally {
        setBusy(null);
      }
    });

  return (
    <Card>
      <CardHeader>
        <CardTitle>Phases</CardTitle>
        <CardDescription>From params.yaml. Start runs <code>dvc repro federate@&lt;phase&gt;</code> on the monitor's machine.</CardDescription>
      </CardHeader>
      <CardContent className="grid gap-2">
        {error && <p role="alert" className="text-sm text-destructive">{error}</p>}
        <Table data-testid="phases-table">
          <TableHeader>
            <TableRow>
              <TableHead>Phase</TableHead>
              <TableHead>Dataset</TableHead>
              <TableHead>Strategy</TableHead>
              <TableHead className="text-right">Rounds</TableHead>
              <TableHead>Latest run</TableHead>
              <TableHead />
            </TableRow>
          </TableHeader>
          <TableBody>
            {phases.map((p) => (
              <TableRow key={p.phase}>
                <TableCell className="font-medium">{p.phase}</TableCell>
                <TableCell>{p.dataset}</TableCell>
                <TableCell>{p.strategy}</TableCell>
                <TableCell className="text-right tabular-nums">{p.rounds}</TableCell>
                <TableCell>{p.latest_state ? <RunStateBadge state={p.latest_state} /> : <span className="text-muted-foreground">none</span>}</TableCell>
                <TableCell className="text-right">
                  <Button size="sm" variant="outline" disabled={anyRunning || busy !== null} onClick={() => start(p.phase)} data-testid={`start-${p.phase}`}
                    title={anyRunning ? "A phase is already running" : undefined}>
                    <Play />
                    {busy === p.phase ? "Starting…" : "Start"}
                  </Button>
                </TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
        {message && (
          <p role={message.ok ? "status" : "alert"} className={message.ok ? "text-sm text-emerald-700" : "text-sm text-destructive"}>
            {message.text}
          </p>
        )}
      </CardContent>
    </Card>
  );
}
