// 100 hospitals (issue 12): the topology becomes a grid of dots and the client curves a mean / lowest / highest
// summary, so neither draws 100 labels nor a 100-name legend.
import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { MonitorEvent } from "@/api/types";
import { applyEvents, emptyRun } from "@/lib/runState";
import { RoundCurves } from "./RunCharts";
import { Topology } from "./Topology";

const N = 100;
const IDS = Array.from({ length: N }, (_, i) => `client_${i}`);

function manyClientEvents(rounds: number, { finish = true } = {}): MonitorEvent[] {
  let seq = 0;
  const base = () => ({ run_id: "M-1", phase: "A", seq: seq++, ts: 1_700_000_000 + seq });
  const events: MonitorEvent[] = [{
    ...base(), type: "run_started", dataset: "bloodmnist", data_source: "synthetic", strategy: "fedavg",
    num_rounds: rounds, engine: "simulation", clients: IDS,
    partition_sizes: Object.fromEntries(IDS.map((c) => [c, 100])), label_histograms: {},
  }];
  for (let r = 1; r <= rounds; r++) {
    events.push({ ...base(), type: "round_started", round: r, clients: IDS });
    IDS.forEach((c, i) => events.push({
      ...base(), type: "client_update", round: r, client: c, stage: "train", state: "idle", num_examples: 100,
      train_loss: 2 / r + i / 100, metrics: {}, seconds: 0.5,
    }));
    events.push({
      ...base(), type: "round_completed", round: r, metrics: { acc: 0.5, auc: 0.7, balanced_acc: 0.4, loss: 1 / r },
      train_loss: 2 / r, clients_ok: IDS, clients_failed: [], num_examples: 100 * N, seconds: 10,
    });
  }
  if (finish) events.push({ ...base(), type: "run_finished", status: "completed", rounds_completed: rounds, metrics: {} });
  return events;
}

describe("a run with 100 hospitals", () => {
  it("draws the topology as a grid of unlabelled dots with edges only where traffic flows", () => {
    const events = manyClientEvents(1, { finish: false });
    const started = events.findIndex((e) => e.type === "round_started");
    render(<Topology run={applyEvents(emptyRun("M-1"), events.slice(0, started + 1))} />);
    expect(screen.getByTestId("topology")).toHaveAttribute("data-layout", "grid");
    expect(IDS.filter((c) => screen.queryByTestId(`topology-node-${c}`) === null)).toEqual([]);
    expect(screen.queryAllByText(/^client_\d+$/)).toEqual([]);  // no 100 captions; ids are in tooltips
    expect(screen.getAllByTestId(/^topology-edge-/)).toHaveLength(N);  // round 1 just sent the model to all
  });

  it("draws no idle edges once the round is over", () => {
    render(<Topology run={applyEvents(emptyRun("M-1"), manyClientEvents(1))} />);
    expect(screen.queryAllByTestId(/^topology-edge-/)).toEqual([]);
  });

  it("summarises the client train loss as mean, lowest and highest per round", () => {
    const { container } = render(<RoundCurves run={applyEvents(emptyRun("M-1"), manyClientEvents(2))} />);
    const chart = screen.getByTestId("chart-client-loss");
    expect(chart.closest("figure")?.textContent).toContain("100 hospitals: mean, lowest, highest");
    expect(chart.querySelectorAll("polyline")).toHaveLength(3);
    expect(container.textContent).not.toContain("client_99");
  });
});
