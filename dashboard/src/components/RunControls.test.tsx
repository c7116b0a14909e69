import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { RunState } from "@/api/types";
import { mockFetch } from "@/test/fixtures";
import { RunControls } from "./RunControls";
import { TOKEN_KEY, TokenProvider } from "./TokenProvider";

const renderControls = (state: RunState, onChanged = vi.fn()) =>
  render(<TokenProvider><RunControls runId="r1" state={state} onChanged={onChanged} /></TokenProvider>);

describe("RunControls", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("enables only the actions the run state allows and says why the others are off", () => {
    renderControls("running");
    expect(screen.getByTestId("control-pause")).toBeEnabled();
    expect(screen.getByTestId("control-pause")).not.toHaveAttribute("title");
    expect(screen.getByTestId("control-resume")).toBeDisabled();
    expect(screen.getByTestId("control-resume")).toHaveAttribute("title", "run running: not paused");
    expect(screen.getByTestId("control-stop")).toBeEnabled();
  });

  it("on a paused run offers resume and stop, not pause", () => {
    renderControls("paused");
    expect(screen.getByTestId("control-pause")).toHaveAttribute("title", "run paused: already paused");
    expect(screen.getByTestId("control-pause")).toBeDisabled();
    expect(screen.getByTestId("control-resume")).toBeEnabled();
    expect(screen.getByTestId("control-stop")).toBeEnabled();
  });

  it.each(["completed", "failed", "stopped"] as const)("disables everything on a %s run, with the reason as tooltip", (state) => {
    renderControls(state);
    for (const a of ["pause", "resume", "stop"]) {
      expect(screen.getByTestId(`control-${a}`)).toBeDisabled();
      expect(screen.getByTestId(`control-${a}`)).toHaveAttribute("title", `run ${state}: nothing to ${a}`);
    }
  });

  it("asks for the token once, validates it, keeps it and then pauses", async () => {
    const calls = mockFetch({
      "/api/auth/check": (init) => ((init?.headers as Record<string, string>).Authorization === "Bearer good" ? [204, null] : [401, { detail: "wrong token" }]),
      "/api/runs/r1/control/pause": () => [200, { run_id: "r1", previous: "running", state: "paused" }],
    });
    const onChanged = vi.fn();
    renderControls("running", onChanged);
    const user = userEvent.setup();
    await user.click(screen.getByTestId("control-pause"));
    const input = await screen.findByLabelText("token");
    await user.type(input, "bad");
    await user.click(screen.getByRole("button", { name: "Use token" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("rejected the token (401): wrong token");
    await user.clear(input);
    await user.type(input, "good");
    await user.click(screen.getByRole("button", { name: "Use token" }));
    await waitFor(() => expect(onChanged).toHaveBeenCalledWith("paused"));
    expect(sessionStorage.getItem(TOKEN_KEY)).toBe("good");
    const pause = calls.find((c) => c.url === "/api/runs/r1/control/pause");
    expect(pause?.init?.method).toBe("POST");
    expect((pause?.init?.headers as Record<string, string>).Authorization).toBe("Bearer good");
  });

  it("shows the API's refusal in words", async () => {
    sessionStorage.setItem(TOKEN_KEY, "good");
    mockFetch({ "/api/runs/r1/control/stop": () => [409, { detail: "run r1 is completed; stop needs running or paused" }] });
    renderControls("running");
    await userEvent.setup().click(screen.getByTestId("control-stop"));
    expect(await screen.findByTestId("control-error")).toHaveTextContent("run r1 is completed; stop needs running or paused");
  });
});
