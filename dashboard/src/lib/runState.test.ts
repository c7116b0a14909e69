import { describe, expect, it } from "vitest";
import { phaseEvents } from "@/test/fixtures";
import { applyEvent, applyEvents, completedRounds, emptyRun, latestMetrics } from "./runState";

describe("run state folded from events", () => {
  it("builds rounds, nodes and partitions from a phase", () => {
    const run = applyEvents(emptyRun("A-20261129-1"), phaseEvents(3));
    expect(run.clientOrder).toEqual(["client_0", "client_1", "client_2"]);
    expect(run.dataSource).toBe("synthetic");
    expect(run.numRounds).toBe(3);
    expect(completedRounds(run).map((r) => r.round)).toEqual([1, 2, 3]);
    expect(run.nodes.client_0.partitionSize).toBe(400);
    expect(run.nodes.client_2.labelHistogram).toEqual([0, 0, 100, 100, 0, 0, 0, 0]);
    expect(run.nodes.client_1.history).toHaveLength(3);
    expect(run.rounds[0].client_train_loss).toEqual({ client_0: 2, client_1: 2.1, client_2: 2.2 });
    expect(run.finished?.status).toBe("completed");
    expect(latestMetrics(run).acc).toBeCloseTo(0.8);
  });

  it("records failures and marks the client failed for its round", () => {
    const events = phaseEvents(2, { finish: false });
    const run = applyEvents(emptyRun("x"), events);
    expect(run.nodes.client_2.failures).toEqual([expect.objectContaining({ round: 2, stage: "train", error: "CUDA out of memory" })]);
    expect(run.nodes.client_2.state).toBe("failed");
    expect(run.rounds[1].clients_failed).toEqual(["client_2"]);
  });

  it("ignores events it already applied (a reconnect replays from since)", () => {
    const events = phaseEvents(2);
    const once = applyEvents(emptyRun("x"), events);
    const twice = applyEvents(once, events);
    expect(twice).toBe(once);
    expect(twice.eventCount).toBe(events.length);
  });

  it("animates traffic while a round runs and clears it when the round completes", () => {
    const events = phaseEvents(1, { finish: false });
    const started = events.findIndex((e) => e.type === "round_started");
    let run = applyEvents(emptyRun("x"), events.slice(0, started + 1));
    expect(run.nodes.client_0.traffic).toBe("down");
    expect(run.nodes.client_0.state).toBe("training");
    run = applyEvent(run, events[started + 1]);
    expect(run.nodes.client_0.traffic).toBe("up");
    run = applyEvents(run, events.slice(started + 2));
    expect(Object.values(run.nodes).every((n) => n.traffic === null)).toBe(true);
    expect(run.currentRound).toBe(1);
  });

  it("takes a node's state and last-seen time from heartbeats", () => {
    const run = applyEvents(emptyRun("x"), [
      ...phaseEvents(1, { finish: false }),
      { run_id: "A-20261129-1", phase: "A", seq: 100, ts: 1_800_000_000, type: "heartbeat", node: "client_1", state: "evaluating" },
    ]);
    expect(run.nodes.client_1.state).toBe("evaluating");
    expect(run.nodes.client_1.lastSeen).toBe(1_800_000_000);
  });

  it("shows traffic when a heartbeat says the server sent a client evaluation work", () => {
    const events = phaseEvents(1, { finish: false });
    let run = applyEvents(emptyRun("x"), events.slice(0, events.findIndex((e) => e.type === "round_completed")));
    expect(run.nodes.client_0.traffic).toBe("up");
    run = applyEvent(run, { run_id: "A-20261129-1", phase: "A", seq: 99, ts: 1_700_000_100, type: "heartbeat", node: "client_0", state: "evaluating" });
    expect(run.nodes.client_0.traffic).toBe("down");
    expect(run.nodes.client_0.state).toBe("evaluating");
  });
});
