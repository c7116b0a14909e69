import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { ComparisonView } from "./ComparisonView";

const metrics = (acc: number) => ({ acc, auc: acc + 0.1, balanced_acc: acc - 0.1, loss: 1 - acc });

describe("ComparisonView", () => {
  it("puts phases next to the centralized baselines with the ACC gap", () => {
    render(
      <ComparisonView
        error={null}
        data={{
          federated: [{ kind: "federated", name: "A", dataset: "bloodmnist", strategy: "fedavg", data_source: "synthetic", rounds: 5, test: metrics(0.8), val: {}, path: "artifacts/federated/A/metrics.json",
                        privacy: { mode: "client", epsilon: 4.25, delta: 1e-5, noise_multiplier: 1, clipping_norm: 1, max_epsilon: null, budget_stopped: true } }],
          centralized: [{ kind: "centralized", name: "bloodmnist", dataset: "bloodmnist", data_source: "synthetic", test: metrics(0.85), val: {}, path: "artifacts/centralized/bloodmnist/metrics.json" }],
        }}
      />,
    );
    const phase = screen.getByTestId("comparison-federated-A");
    expect(phase).toHaveTextContent("Phase A");
    expect(phase).toHaveTextContent("fedavg");
    expect(phase).toHaveTextContent("synthetic data");
    expect(phase).toHaveTextContent("0.800");
    expect(phase).toHaveTextContent("-0.050");
    expect(screen.getByTestId("comparison-epsilon-A")).toHaveTextContent("4.25 (client) budget");
    expect(screen.getByTestId("comparison-centralized-bloodmnist")).toHaveTextContent("0.850");
    expect(screen.getByTestId("comparison-epsilon-bloodmnist")).toHaveTextContent("—");
  });

  it("explains how to get something to compare", () => {
    render(<ComparisonView error={null} data={{ federated: [], centralized: [] }} />);
    expect(screen.getByTestId("comparison-empty")).toHaveTextContent("dvc repro");
  });
});
