import { describe, expect, it } from "vitest";
import { manyClientEvents, MANY, phaseEvents } from "@/test/fixtures";
import { applyEvent, applyEvents, completedRounds, currentSampling, emptyRun, latestMetrics } from "./runState";

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

  it("ends every node's work when a run stops mid-round; a failed client keeps failed", () => {
    const events = phaseEvents(3, { finish: false, failIn: 1 });
    const cut = events.findIndex((e) => e.type === "round_started" && e.round === 2) + 2; // client_0 reported
    const run = applyEvents(emptyRun("x"), events.slice(0, cut));
    expect(Object.fromEntries(Object.values(run.nodes).map((n) => [n.id, n.state]))).toEqual({
      server: "training", client_0: "idle", client_1: "training", client_2: "failed",
    });
    const finish = (status: "stopped" | "failed") => applyEvent(run, {
      run_id: "x", phase: "A", seq: 1000, ts: 1_800_000_000, type: "run_finished", status, rounds_completed: 1, metrics: {},
    });
    expect(Object.fromEntries(Object.values(finish("stopped").nodes).map((n) => [n.id, [n.state, n.traffic]]))).toEqual({
      server: ["idle", null], client_0: ["idle", null], client_1: ["idle", null], client_2: ["failed", null],
    });
    expect(finish("failed").nodes.server.state).toBe("failed");
  });

  it("counts every event as a sign of life of the server, a failure report as none of the client", () => {
    const events = phaseEvents(2, { finish: false });
    const run = applyEvents(emptyRun("x"), events);
    const lastUpdate = events.filter((e) => e.type === "client_update" && e.client === "client_2").pop();
    expect(run.nodes.server.lastSeen).toBe(events[events.length - 1].ts);
    expect(run.nodes.client_2.lastSeen).toBe(lastUpdate?.ts);
  });

  it("keeps who was sampled for each round; the current round's sample is unknown until its round_started", () => {
    const events = manyClientEvents(2, { finish: false, perRound: 30 });
    const run = applyEvents(emptyRun("M-1"), events);
    expect(run.rounds.map((r) => r.sampled)).toEqual([MANY.slice(0, 30), MANY.slice(30, 60)]);
    expect(currentSampling(run)).toEqual({ round: 2, clients: MANY.slice(30, 60) });
    expect(currentSampling(applyEvents(emptyRun("M-1"), events.slice(0, 1)))).toBeNull();
    const midRunCompletion = events.filter((e) => e.type === "round_completed" && e.round === 2);  // monitor started late
    expect(currentSampling(applyEvents(emptyRun("M-1"), midRunCompletion))).toBeNull();
  });
});
