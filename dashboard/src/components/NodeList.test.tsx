// The node list at 100 hospitals: one row each, filter by id / state / sample, sort by any column, open a client.
import { fireEvent, render, screen, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { applyEvents, emptyRun } from "@/lib/runState";
import { MANY, manyClientEvents, phaseEvents } from "@/test/fixtures";
import { filterRows, nodeRows, NodeList, sortRows } from "./NodeList";

// Two rounds of 30 sampled clients: round 1 samples client_0..29, round 2 (the current one) client_30..59.
const run = applyEvents(emptyRun("M-1"), manyClientEvents(2, { perRound: 30 }));
const shownIds = () => screen.getAllByTestId(/^node-row-/).map((r) => r.getAttribute("data-testid")!.slice("node-row-".length));

describe("node rows", () => {
  it("take size, last train loss, val ACC and the current round's sample from the folded run", () => {
    const rows = nodeRows(run);
    expect(rows).toHaveLength(100);
    expect(rows[0]).toEqual({ id: "client_0", state: "idle", sampled: false, size: 100, lastLoss: 2, valAcc: 0.5 });
    expect(rows[45]).toEqual({ id: "client_45", state: "idle", sampled: true, size: 145, lastLoss: 1.45, valAcc: 0.545 });
    expect(rows[99]).toEqual({ id: "client_99", state: "idle", sampled: false, size: 199, lastLoss: null, valAcc: null });
  });

  it("read val ACC from `acc` in runs that report it under that name, and know no sample before round_started", () => {
    const events = phaseEvents(1);
    expect(nodeRows(applyEvents(emptyRun("x"), events.slice(0, 1))).map((r) => r.sampled)).toEqual([null, null, null]);
    const evaluated = applyEvents(emptyRun("x"), [...events, {
      run_id: "x", phase: "A", seq: 100, ts: 1_800_000_000, type: "client_update", round: 1, client: "client_1",
      stage: "evaluate", state: "idle", num_examples: 10, metrics: { acc: 0.7, loss: 1 }, seconds: 0.1,
    }]);
    expect(nodeRows(evaluated)[1]).toEqual({ id: "client_1", state: "idle", sampled: true, size: 300, lastLoss: 2.1, valAcc: 0.7 });
  });

  it("filter by id substring and by state or sample", () => {
    const rows = nodeRows(run);
    expect(filterRows(rows, "CLIENT_9", "all").map((r) => r.id)).toEqual(["client_9", ...MANY.slice(90)]);
    expect(filterRows(rows, "", "sampled").map((r) => r.id)).toEqual(MANY.slice(30, 60));
    expect(filterRows(rows, "5", "not-sampled").map((r) => r.id)).toEqual(
      ["client_5", "client_15", "client_25", "client_65", "client_75", "client_85", "client_95"]);
    expect(filterRows(rows, "", "failed")).toEqual([]);
  });

  it("sort numerically by id and put unknown values last in both directions", () => {
    const rows = nodeRows(run);
    expect(sortRows(rows, "id", true).slice(0, 3).map((r) => r.id)).toEqual(["client_99", "client_98", "client_97"]);
    const byLoss = sortRows(rows, "lastLoss", false).map((r) => r.id);
    expect(byLoss.slice(0, 2)).toEqual(["client_30", "client_31"]);  // round 2's losses, 1.3 and 1.31
    expect(byLoss.slice(-40)).toEqual(MANY.slice(60));  // never trained: ordered by id at the end
    const byAcc = sortRows(rows, "valAcc", true).map((r) => r.id);
    expect(byAcc.slice(0, 2)).toEqual(["client_59", "client_58"]);
    expect(byAcc.slice(-40)).toEqual(MANY.slice(60));
  });
});

describe("NodeList", () => {
  it("lists all 100 clients in partition order and says how many were sampled", () => {
    render(<NodeList run={run} />);
    expect(shownIds()).toEqual(MANY);
    expect(screen.getByTestId("node-list")).toHaveTextContent("100 of 100 shown · 30 sampled this round");
    expect(screen.getByTestId("node-row-client_30")).toHaveAttribute("data-sampled", "true");
    expect(within(screen.getByTestId("node-row-client_0")).getByText("· not sampled")).toBeInTheDocument();
  });

  it("searches, filters by sample and sorts by clicking a column twice", () => {
    render(<NodeList run={run} />);
    fireEvent.change(screen.getByTestId("node-filter"), { target: { value: "client_4" } });
    expect(shownIds()).toEqual(["client_4", ...MANY.slice(40, 50)]);
    fireEvent.change(screen.getByTestId("node-state-filter"), { target: { value: "sampled" } });
    expect(shownIds()).toEqual(MANY.slice(40, 50));
    fireEvent.click(screen.getByTestId("node-sort-valAcc"));
    fireEvent.click(screen.getByTestId("node-sort-valAcc"));
    expect(shownIds()).toEqual(MANY.slice(40, 50).reverse());
    expect(screen.getByTestId("node-sort-valAcc").closest("th")).toHaveAttribute("aria-sort", "descending");
    fireEvent.change(screen.getByTestId("node-filter"), { target: { value: "nobody" } });
    expect(screen.getByText("No client matches.")).toBeInTheDocument();
  });

  it("opens a client's detail from its row", () => {
    const onSelect = vi.fn();
    render(<NodeList run={run} onSelect={onSelect} />);
    fireEvent.click(screen.getByTestId("node-row-client_42"));
    expect(onSelect).toHaveBeenCalledWith("client_42");
  });
});
