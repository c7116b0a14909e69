import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { PhaseInfo } from "@/api/types";
import { mockFetch } from "@/test/fixtures";
import { PhasesPanel } from "./PhasesPanel";
import { TOKEN_KEY, TokenProvider } from "./TokenProvider";

const phase = (name: string, extra: Partial<PhaseInfo> = {}): PhaseInfo => ({
  phase: name, dataset: "bloodmnist", strategy: "fedavg", rounds: 5, latest_run_id: null, latest_state: null, launched: false, ...extra,
});

describe("PhasesPanel", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("starts a phase with the token and reports the monitor's refusal in words", async () => {
    sessionStorage.setItem(TOKEN_KEY, "good");
    let busy = false;
    const calls = mockFetch({
      "/api/phases/A/start": () => (busy ? [409, { detail: "phase A is already running (pid 42)" }] : ((busy = true), [202, { phase: "A", pid: 42 }])),
    });
    const onStarted = vi.fn();
    render(<TokenProvider><PhasesPanel phases={[phase("A"), phase("B")]} error={null} onStarted={onStarted} /></TokenProvider>);
    const user = userEvent.setup();
    await user.click(screen.getByTestId("start-A"));
    expect(await screen.findByRole("status")).toHaveTextContent("dvc repro federate@A");
    expect(onStarted).toHaveBeenCalled();
    expect(calls[0].init?.method).toBe("POST");
    await user.click(screen.getByTestId("start-A"));
    expect(await screen.findByRole("alert")).toHaveTextContent("phase A is already running (pid 42)");
  });

  it("disables Start while a phase runs", () => {
    render(<TokenProvider><PhasesPanel phases={[phase("A", { latest_state: "running" }), phase("B")]} error={null} onStarted={() => {}} /></TokenProvider>);
    expect(screen.getByTestId("start-A")).toBeDisabled();
    expect(screen.getByTestId("start-B")).toBeDisabled();
  });
});
