// One WebSocket per selected run: replays stored events, then follows live ones; on a drop it reconnects
// with exponential backoff asking only for what came after the last seq it applied.
import { useEffect, useRef, useState } from "react";
import { wsUrl } from "@/api/client";
import type { MonitorEvent } from "@/api/types";
import { applyEvents, emptyRun, type LiveRun } from "./runState";

export type Connection = "connecting" | "live" | "reconnecting" | "offline";

/** Delay before reconnect attempt `attempt` (1, 2, ...): 0.5 s doubling up to 10 s. */
export function backoffMs(attempt: number): number {
  return Math.min(10_000, 500 * 2 ** Math.max(0, attempt - 1));
}

/** Failed attempts after which we call it offline (we still keep trying). */
export const OFFLINE_AFTER = 4;
/** Events are applied in batches at most this often, so a burst costs one render, not hundreds. */
const FLUSH_MS = 150;

export function useEventStream(runId: string | null, socketFactory: (url: string) => WebSocket = (u) => new WebSocket(u)) {
  const [run, setRun] = useState<LiveRun | null>(null);
  const [connection, setConnection] = useState<Connection>("connecting");
  const factory = useRef(socketFactory);

  useEffect(() => {
    if (!runId) {
      setRun(null);
      return;
    }
    let state = emptyRun(runId);
    let pending: MonitorEvent[] = [];
    let flushTimer: ReturnType<typeof setTimeout> | null = null;
    let retryTimer: ReturnType<typeof setTimeout> | null = null;
    let socket: WebSocket | null = null;
    let attempts = 0;
    let closed = false;
    setRun(state);
    setConnection("connecting");

    const flush = () => {
      flushTimer = null;
      if (!pending.length) return;
      state = applyEvents(state, pending);
      pending = [];
      setRun(state);
    };

    const connect = () => {
      // `since` counts events already applied plus those waiting in the buffer.
      const since = pending.length ? Math.max(state.lastSeq, pending[pending.length - 1].seq) : state.lastSeq;
      const ws = factory.current(wsUrl(runId, since));
      socket = ws;
      ws.onopen = () => {
        attempts = 0;
        setConnection("live");
      };
      ws.onmessage = (msg) => {
        let ev: MonitorEvent;
        try {
          ev = JSON.parse(typeof msg.data === "string" ? msg.data : "") as MonitorEvent;
        } catch {
          return; // not an event (e.g. a keep-alive); nothing to apply
        }
        if (!ev || typeof ev.seq !== "number" || ev.run_id !== runId) return;
        pending.push(ev);
        if (flushTimer === null) flushTimer = setTimeout(flush, FLUSH_MS);
      };
      ws.onclose = () => {
        if (closed || socket !== ws) return;
        attempts += 1;
        setConnection(attempts >= OFFLINE_AFTER ? "offline" : "reconnecting");
        retryTimer = setTimeout(connect, backoffMs(attempts));
      };
      ws.onerror = () => ws.close();
    };

    connect();
    return () => {
      closed = true;
      if (flushTimer) clearTimeout(flushTimer);
      if (retryTimer) clearTimeout(retryTimer);
      socket?.close();
    };
  }, [runId]);

  return { run, connection };
}
