import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { applyEvents, emptyRun } from "@/lib/runState";
import { phaseEvents } from "@/test/fixtures";
import { KpiCards, RoundCurves } from "./RunCharts";

describe("KPIs and curves", () => {
  it("show the latest round's metrics and one point per completed round", () => {
    const run = applyEvents(emptyRun("x"), phaseEvents(3, { finish: false }));
    render(<><KpiCards run={run} /><RoundCurves run={run} /></>);
    expect(screen.getByTestId("kpi-round")).toHaveTextContent("3/3");
    expect(screen.getByTestId("kpi-acc")).toHaveTextContent("0.800");
    expect(screen.getByTestId("kpi-auc")).toHaveTextContent("0.850");
    expect(screen.getByTestId("kpi-loss")).toHaveTextContent("0.500");
    expect(screen.getByTestId("kpi-throughput")).toHaveTextContent("100/s");
    expect(screen.getByTestId("kpi-epsilon")).toHaveTextContent("off");
    // ACC, AUC and balanced ACC: 3 rounds each.
    expect(screen.getByTestId("chart-accuracy")).toHaveAttribute("data-points", "9");
    expect(screen.getByTestId("chart-duration")).toHaveAttribute("data-points", "3");
    // client_2 failed in round 2: 3 + 3 + 2 train losses.
    expect(screen.getByTestId("chart-client-loss")).toHaveAttribute("data-points", "8");
  });

  it("shows the privacy budget of a DP run", () => {
    const events = phaseEvents(2, { finish: false }).map((ev) =>
      ev.type === "round_completed" ? { ...ev, epsilon: ev.round * 1.5 } : ev);
    render(<KpiCards run={applyEvents(emptyRun("x"), events)} />);
    expect(screen.getByTestId("kpi-epsilon")).toHaveTextContent("3.00");
  });

  it("show the last round's mean and worst hospital ACC and balanced ACC", () => {
    const events = phaseEvents(3, { finish: false }).map((ev) =>
      ev.type === "round_completed" && ev.round === 3
        ? { ...ev, clients_acc_mean: 0.7, clients_acc_worst: 0.6, clients_balanced_acc_mean: 0.55, clients_balanced_acc_worst: 0.4 }
        : ev);
    render(<KpiCards run={applyEvents(emptyRun("x"), events)} />);
    expect(screen.getByTestId("kpi-hospital-acc")).toHaveTextContent("0.700");
    expect(screen.getByTestId("kpi-hospital-acc").parentElement).toHaveTextContent("worst 0.600");
    expect(screen.getByTestId("kpi-hospital-balanced-acc")).toHaveTextContent("0.550");
    expect(screen.getByTestId("kpi-hospital-balanced-acc").parentElement).toHaveTextContent("worst 0.400");
  });

  it("show a dash for hospital metrics a round did not report", () => {
    render(<KpiCards run={applyEvents(emptyRun("x"), phaseEvents(3, { finish: false }))} />);
    expect(screen.getByTestId("kpi-hospital-acc")).toHaveTextContent("—");
    expect(screen.getByTestId("kpi-hospital-balanced-acc")).toHaveTextContent("—");
  });

  it("waits politely before the first round", () => {
    render(<RoundCurves run={emptyRun("x")} />);
    expect(screen.getAllByText("waiting for the first round")).toHaveLength(4);
  });
});
