import { act, renderHook } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FakeSocket, phaseEvents, RUN_ID } from "@/test/fixtures";
import { backoffMs, OFFLINE_AFTER, useEventStream } from "./useEventStream";

const factory = (url: string) => new FakeSocket(url) as unknown as WebSocket;

describe("useEventStream", () => {
  beforeEach(() => {
    FakeSocket.instances = [];
    vi.useFakeTimers();
  });
  afterEach(() => vi.useRealTimers());

  it("backs off exponentially up to 10 s", () => {
    expect([1, 2, 3, 4, 5, 6, 10].map(backoffMs)).toEqual([500, 1000, 2000, 4000, 8000, 10000, 10000]);
  });

  it("applies streamed events in batches and reports live", () => {
    const { result } = renderHook(() => useEventStream(RUN_ID, factory));
    const ws = FakeSocket.instances[0];
    expect(ws.url).toContain(`run_id=${RUN_ID}&since=-1`);
    act(() => ws.open());
    expect(result.current.connection).toBe("live");
    const events = phaseEvents(2);
    act(() => events.forEach((e) => ws.send(e)));
    act(() => vi.advanceTimersByTime(150));
    expect(result.current.run?.eventCount).toBe(events.length);
    expect(result.current.run?.finished?.status).toBe("completed");
  });

  it("reconnects after a drop asking only for events after the last seq", () => {
    const { result } = renderHook(() => useEventStream(RUN_ID, factory));
    const events = phaseEvents(2);
    const first = FakeSocket.instances[0];
    act(() => {
      first.open();
      events.slice(0, 5).forEach((e) => first.send(e));
    });
    act(() => vi.advanceTimersByTime(150));
    act(() => first.close());
    expect(result.current.connection).toBe("reconnecting");
    act(() => vi.advanceTimersByTime(backoffMs(1)));
    const second = FakeSocket.instances[1];
    expect(second.url).toContain("since=4");
    act(() => {
      second.open();
      events.forEach((e) => second.send(e)); // a server replaying too much is harmless: duplicates are ignored
    });
    act(() => vi.advanceTimersByTime(150));
    expect(result.current.connection).toBe("live");
    expect(result.current.run?.eventCount).toBe(events.length);
  });

  it("says offline after repeated failures and keeps trying", () => {
    const { result } = renderHook(() => useEventStream(RUN_ID, factory));
    for (let attempt = 1; attempt <= OFFLINE_AFTER; attempt++) {
      act(() => FakeSocket.instances[attempt - 1].close());
      act(() => vi.advanceTimersByTime(backoffMs(attempt)));
    }
    expect(result.current.connection).toBe("offline");
    expect(FakeSocket.instances).toHaveLength(OFFLINE_AFTER + 1);
    act(() => FakeSocket.instances[OFFLINE_AFTER].open());
    expect(result.current.connection).toBe("live");
  });
});
