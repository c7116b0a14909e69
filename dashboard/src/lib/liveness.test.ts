import { describe, expect, it } from "vitest";
import { phaseEvents } from "@/test/fixtures";
import { LOST_AFTER_S, STALE_AFTER_S, liveness, nodeLiveness } from "./liveness";
import { applyEvents, emptyRun } from "./runState";

describe("node liveness from the event stream", () => {
  it("turns stale, then lost, by the age of the last event proving the node alive", () => {
    expect(liveness(100, 100 + STALE_AFTER_S - 0.1)).toBe("online");
    expect(liveness(100, 100 + STALE_AFTER_S)).toBe("stale");
    expect(liveness(100, 100 + LOST_AFTER_S)).toBe("lost");
    expect(liveness(null, 100)).toBe("lost");
  });

  it("ages a running run's nodes against now", () => {
    const run = applyEvents(emptyRun("x"), phaseEvents(1, { finish: false }));
    const last = run.lastTs ?? 0;
    expect(nodeLiveness(run, last + STALE_AFTER_S + 1)).toEqual({
      server: "stale", client_0: "stale", client_1: "stale", client_2: "stale",
    });
    expect(nodeLiveness(run, last + LOST_AFTER_S + 100)).toEqual({
      server: "lost", client_0: "lost", client_1: "lost", client_2: "lost",
    });
  });

  it("ages a finished run's nodes against its end, so an old run is not all lost", () => {
    const run = applyEvents(emptyRun("x"), phaseEvents(2));
    expect(nodeLiveness(run, (run.finished?.ts ?? 0) + 10 * LOST_AFTER_S)).toEqual({
      server: "online", client_0: "online", client_1: "online", client_2: "online",
    });
  });
});
