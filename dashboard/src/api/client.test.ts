import { afterEach, describe, expect, it, vi } from "vitest";
import { mockFetch } from "@/test/fixtures";
import { api, ApiError, describeFailure, wsUrl } from "./client";

describe("api client", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("turns FastAPI errors into sentences", () => {
    expect(describeFailure(409, { detail: "run is paused" }, "/x")).toBe("run is paused");
    expect(describeFailure(422, { detail: [{ msg: "bad seq" }, { msg: "bad ts" }] }, "/x")).toContain("bad seq; bad ts");
    expect(describeFailure(401, null, "/x")).toContain("fedforge monitor token");
  });

  it("raises ApiError with the status and the monitor's reason", async () => {
    mockFetch({ "/api/runs/nope": () => [404, { detail: "no run 'nope'; GET /api/runs lists the known runs" }] });
    await expect(api.run("nope")).rejects.toEqual(new ApiError(404, "no run 'nope'; GET /api/runs lists the known runs"));
  });

  it("builds the WebSocket URL on the page's origin", () => {
    const loc = { protocol: "https:", host: "example.org:8443" } as Location;
    expect(wsUrl("A 1", 7, loc)).toBe("wss://example.org:8443/api/ws?run_id=A%201&since=7");
  });
});
