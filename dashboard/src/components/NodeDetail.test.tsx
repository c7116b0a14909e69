import { render, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { applyEvents, emptyRun } from "@/lib/runState";
import { phaseEvents } from "@/test/fixtures";
import { NodeDetail } from "./NodeDetail";

describe("NodeDetail", () => {
  it("shows partition size, label histogram, per-round metrics and failures", () => {
    const run = applyEvents(emptyRun("x"), phaseEvents(3));
    render(<NodeDetail node={run.nodes.client_2} onClose={() => {}} />);
    const dialog = screen.getByTestId("node-detail");
    expect(within(dialog).getByTestId("node-partition-size")).toHaveTextContent("200");
    expect(within(dialog).getByTestId("node-histogram").querySelectorAll("rect")).toHaveLength(8);
    expect(within(dialog).getByTestId("node-history").querySelectorAll("tbody tr")).toHaveLength(2);
    expect(within(dialog).getByTestId("node-failures")).toHaveTextContent("Round 2 (train): CUDA out of memory");
  });

  it("is closed when no node is selected", () => {
    render(<NodeDetail node={null} onClose={() => {}} />);
    expect(screen.queryByTestId("node-detail")).not.toBeInTheDocument();
  });
});
