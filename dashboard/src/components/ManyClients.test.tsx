// 100 hospitals: the topology becomes a grid of dots and the client curves a mean / lowest / highest
// summary, so neither draws 100 labels nor a 100-name legend; with fraction_train < 1 it shows who was sampled.
import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { applyEvents, emptyRun } from "@/lib/runState";
import { MANY, manyClientEvents } from "@/test/fixtures";
import { RoundCurves } from "./RunCharts";
import { Topology } from "./Topology";

const N = 100;
const IDS = MANY;

describe("a run with 100 hospitals", () => {
  it("draws the topology as a grid of unlabelled dots with edges only where traffic flows", () => {
    const events = manyClientEvents(1, { finish: false });
    const started = events.findIndex((e) => e.type === "round_started");
    render(<Topology run={applyEvents(emptyRun("M-1"), events.slice(0, started + 1))} />);
    expect(screen.getByTestId("topology")).toHaveAttribute("data-layout", "grid");
    expect(IDS.filter((c) => screen.queryByTestId(`topology-node-${c}`) === null)).toEqual([]);
    expect(screen.queryAllByText(/^client_\d+$/)).toEqual([]);  // no 100 captions; ids are in tooltips
    expect(screen.getAllByTestId(/^topology-edge-/)).toHaveLength(N);  // round 1 just sent the model to all
    // coloured by direction, not animated: 100 flowing dashes would repaint the SVG every frame
    expect(screen.getAllByTestId(/^topology-edge-/).filter((e) => e.classList.contains("edge-active"))).toEqual([]);
    expect(screen.getByTestId("topology-edge-client_7")).toHaveAttribute("stroke", "#2563eb");
  });

  it("draws no idle edges once the round is over", () => {
    render(<Topology run={applyEvents(emptyRun("M-1"), manyClientEvents(1))} />);
    expect(screen.queryAllByTestId(/^topology-edge-/)).toEqual([]);
  });

  it("summarises the client train loss as mean, lowest and highest per round", () => {
    const { container } = render(<RoundCurves run={applyEvents(emptyRun("M-1"), manyClientEvents(2))} />);
    const chart = screen.getByTestId("chart-client-loss");
    expect(chart.closest("figure")?.textContent).toContain("100 hospitals: mean, lowest, highest");
    expect(chart.querySelectorAll("polyline")).toHaveLength(3);
    expect(container.textContent).not.toContain("client_99");
  });

  it("fades the clients left out of the current round's sample and counts the sampled ones", () => {
    const events = manyClientEvents(2, { finish: false, perRound: 30 });
    const round2 = events.findIndex((e) => e.type === "round_started" && e.round === 2);
    render(<Topology run={applyEvents(emptyRun("M-1"), events.slice(0, round2 + 1))} />);
    expect(screen.getByTestId("sampled-count")).toHaveTextContent("sampled 30/100");
    const sampled = IDS.filter((c) => screen.getByTestId(`topology-node-${c}`).getAttribute("data-sampled") === "true");
    expect(sampled).toEqual(IDS.slice(30, 60));
    expect(screen.getByTestId("topology-node-client_0")).toHaveAttribute("data-sampled", "false");
    expect(screen.getByTestId("topology-node-client_0")).toHaveAttribute("opacity", "0.25");
    expect(screen.getAllByTestId(/^topology-edge-/)).toHaveLength(30);  // the model goes to the sampled ones only
  });

  it("says nothing about sampling before a round_started was seen", () => {
    const events = manyClientEvents(1, { finish: false, perRound: 30 });
    render(<Topology run={applyEvents(emptyRun("M-1"), events.slice(0, 1))} />);
    expect(screen.queryByTestId("sampled-count")).toBeNull();
    expect(screen.getByTestId("topology-node-client_0")).toHaveAttribute("data-sampled", "unknown");
  });
});
