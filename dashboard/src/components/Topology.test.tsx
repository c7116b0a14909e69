import { fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { applyEvents, emptyRun } from "@/lib/runState";
import { CLIENTS, phaseEvents } from "@/test/fixtures";
import { Topology } from "./Topology";

describe("Topology", () => {
  it("draws the server and every client with its state and liveness", () => {
    const events = phaseEvents(2, { finish: false });
    const run = applyEvents(emptyRun("x"), events.slice(0, -1)); // round 2 still open: client_2 failed in it
    render(<Topology run={run} liveness={{ client_1: "stale", client_0: "lost" }} />);
    expect(screen.getByTestId("topology-node-server")).toBeInTheDocument();
    for (const id of CLIENTS) expect(screen.getByTestId(`topology-node-${id}`)).toBeInTheDocument();
    expect(screen.getByTestId("topology-node-client_2")).toHaveAttribute("data-state", "failed");
    expect(screen.getByTestId("topology-node-client_1")).toHaveAttribute("data-liveness", "stale");
    expect(screen.getByTestId("topology-node-client_0")).toHaveAttribute("data-liveness", "lost");
  });

  it("animates the edges of clients in the current round only while it runs", () => {
    const events = phaseEvents(1, { finish: false });
    const started = events.findIndex((e) => e.type === "round_started");
    const { rerender } = render(<Topology run={applyEvents(emptyRun("x"), events.slice(0, started + 1))} />);
    expect(screen.getByTestId("topology-edge-client_0")).toHaveAttribute("data-traffic", "down");
    expect(screen.getByTestId("topology-edge-client_0")).toHaveClass("edge-active");
    rerender(<Topology run={applyEvents(emptyRun("x"), events)} />);
    expect(screen.getByTestId("topology-edge-client_0")).toHaveAttribute("data-traffic", "none");
  });

  it("opens a client's detail on click", () => {
    const onSelect = vi.fn();
    render(<Topology run={applyEvents(emptyRun("x"), phaseEvents(1))} onSelect={onSelect} />);
    fireEvent.click(screen.getByTestId("topology-node-client_1"));
    expect(onSelect).toHaveBeenCalledWith("client_1");
  });
});
