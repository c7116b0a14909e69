// The dashboard: runs overview, the selected run live, phases, comparison. Composition only: the selected run's
// data comes from useSelectedRun, the run itself is drawn by RunView.
import { api } from "@/api/client";
import { Button } from "@/components/ui/button";
import { Tabs, TabsContent, TabsList, TabsTrigger } from "@/components/ui/tabs";
import { ComparisonView } from "@/components/ComparisonView";
import { PhasesPanel } from "@/components/PhasesPanel";
import { RunView } from "@/components/RunView";
import { EmptyState, RunsOverview } from "@/components/RunsOverview";
import { ConnectionBadge } from "@/components/StatusBadges";
import { TokenProvider, useToken } from "@/components/TokenProvider";
import { useNow } from "@/lib/useNow";
import { usePoll } from "@/lib/usePoll";
import { useSelectedRun } from "@/lib/useSelectedRun";

const PHASES_POLL_MS = 5000;
const COMPARISON_POLL_MS = 15000;

function TokenStatus() {
  const { token, ask, forget } = useToken();
  return token ? (
    <Button size="sm" variant="ghost" onClick={forget} title="Forget the token kept for this tab">
      Token set · forget
    </Button>
  ) : (
    <Button size="sm" variant="outline" onClick={ask} data-testid="token-button">
      Enter token
    </Button>
  );
}

function Dashboard() {
  const selected = useSelectedRun();
  const phasesPoll = usePoll(api.phases, PHASES_POLL_MS);
  const comparisonPoll = usePoll(api.comparison, COMPARISON_POLL_MS);
  const now = useNow(1000);
  const { runs, runsError } = selected;

  return (
    <div className="mx-auto flex max-w-7xl flex-col gap-4 p-4">
      <header className="flex flex-wrap items-center justify-between gap-2">
        <div>
          <h1 className="text-xl font-semibold">FedForge monitor</h1>
          <p className="text-sm text-muted-foreground">Federated learning on MedMNIST — live from the telemetry of each phase.</p>
        </div>
        <div className="flex items-center gap-3">
          <ConnectionBadge connection={selected.connection} />
          <TokenStatus />
        </div>
      </header>
      {runsError && (
        <p role="alert" className="rounded-md border border-red-200 bg-red-50 p-2 text-sm text-red-800" data-testid="api-error">
          {runsError} Retrying…
        </p>
      )}
      <Tabs defaultValue="runs">
        <TabsList>
          <TabsTrigger value="runs" data-testid="tab-runs">Runs</TabsTrigger>
          <TabsTrigger value="compare" data-testid="tab-compare">Compare phases</TabsTrigger>
        </TabsList>
        <TabsContent value="runs" forceMount className="flex flex-col gap-4 data-[state=inactive]:hidden">
          {runs && runs.length === 0 && <EmptyState />}
          {runs && runs.length > 0 && <RunsOverview runs={runs} selected={selected.selectedId} onSelect={selected.select} now={now} />}
          <RunView selected={selected} now={now} />
          <PhasesPanel phases={phasesPoll.data ?? []} error={phasesPoll.error} onStarted={() => { phasesPoll.refresh(); selected.refreshRuns(); }} />
        </TabsContent>
        <TabsContent value="compare">
          <ComparisonView data={comparisonPoll.data} error={comparisonPoll.error} />
        </TabsContent>
      </Tabs>
    </div>
  );
}

export default function App() {
  return (
    <TokenProvider>
      <Dashboard />
    </TokenProvider>
  );
}
