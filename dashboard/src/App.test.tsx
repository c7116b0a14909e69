import { render, screen, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FakeSocket, mockFetch, phaseEvents, RUN_ID } from "@/test/fixtures";
import App from "./App";

const summary = {
  run_id: RUN_ID, phase: "A", dataset: "bloodmnist", data_source: "synthetic", strategy: "fedavg", engine: "local",
  state: "completed", current_round: 3, num_rounds: 3, started_at: 1_700_000_001, finished_at: 1_700_000_100,
  last_event_ts: 1_700_000_100, metrics: { acc: 0.8, auc: 0.85, balanced_acc: 0.4, loss: 0.5 },
};

describe("App", () => {
  beforeEach(() => {
    FakeSocket.instances = [];
    vi.stubGlobal("WebSocket", FakeSocket);
  });
  afterEach(() => vi.unstubAllGlobals());

  it("says how to start a run when there is none", async () => {
    mockFetch({ "/api/runs": () => [200, []], "/api/phases": () => [200, []], "/api/comparison": () => [200, { federated: [], centralized: [] }] });
    render(<App />);
    const empty = await screen.findByTestId("empty-state");
    expect(empty).toHaveTextContent("dvc repro");
    expect(empty).toHaveTextContent("fedforge federate --phase A");
    expect(empty).toHaveTextContent("fedforge monitor import");
  });

  it("lists runs with the synthetic badge and replays a finished run from stored events", async () => {
    const calls = mockFetch({
      "/api/runs": () => [200, [summary]],
      [`/api/runs/${RUN_ID}/audit`]: () => [200, []],
      "/api/phases": () => [200, [{ phase: "A", dataset: "bloodmnist", strategy: "fedavg", rounds: 3, latest_run_id: RUN_ID, latest_state: "completed", launched: false }]],
      "/api/comparison": () => [200, { federated: [], centralized: [] }],
    });
    render(<App />);
    const row = await screen.findByTestId(`run-row-${RUN_ID}`);
    expect(within(row).getByText("synthetic data")).toBeInTheDocument();
    expect(row).toHaveTextContent("3/3");
    expect(row).toHaveTextContent("0.800");
    expect(row).toHaveTextContent("1m 39s");
    const ws = await vi.waitFor(() => {
      expect(FakeSocket.instances.length).toBeGreaterThan(0);
      return FakeSocket.instances[FakeSocket.instances.length - 1];
    });
    ws.open();
    phaseEvents(3).forEach((e) => ws.send(e));
    expect(await screen.findByText(/replayed from 17 stored events/)).toBeInTheDocument();
    expect(screen.getByTestId("kpi-acc")).toHaveTextContent("0.800");
    expect(screen.getByTestId("connection")).toHaveAttribute("data-connection", "live");
    expect(screen.getByTestId("control-stop")).toHaveAttribute("title", "run completed: nothing to stop");
    // Liveness comes from the event stream: the run detail is never fetched.
    expect(calls.map((c) => c.url)).not.toContain(`/api/runs/${RUN_ID}`);
  });

  it("says the monitor is unreachable in words", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => { throw new TypeError("Failed to fetch"); }));
    render(<App />);
    expect(await screen.findByTestId("api-error")).toHaveTextContent("Cannot reach the monitor");
    expect(screen.getByTestId("connection")).toHaveAttribute("data-connection", "offline");
  });
});
