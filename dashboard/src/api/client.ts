// Typed fetch layer for the monitor's REST API: every failure becomes an ApiError with a sentence a user can act on.
import type { AuditEntry, Comparison, ControlResult, PhaseInfo, RunDetail, RunSummary } from "./types";

export class ApiError extends Error {
  status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

/** FastAPI puts the reason in `detail`: a string, or a list of validation errors with `msg`. */
function detailText(body: unknown): string | null {
  if (!body || typeof body !== "object") return null;
  const detail = (body as { detail?: unknown }).detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail.map((d) => (d && typeof d === "object" && "msg" in d ? String(d.msg) : String(d))).join("; ");
  }
  return null;
}

export function describeFailure(status: number, body: unknown, path: string): string {
  const detail = detailText(body);
  if (status === 401 || status === 403) {
    return `The monitor rejected the token (${status})${detail ? `: ${detail}` : ""}. Print the right one with \`fedforge monitor token\`.`;
  }
  if (status === 404) return detail ?? `Not found: ${path}`;
  if (status === 409) return detail ?? "That action is not allowed in the run's current state.";
  return `The monitor answered ${status} for ${path}${detail ? `: ${detail}` : ""}`;
}

export async function request<T>(path: string, init: RequestInit & { token?: string | null } = {}): Promise<T> {
  const { token, headers, ...rest } = init;
  const allHeaders: Record<string, string> = { Accept: "application/json", ...(headers as Record<string, string>) };
  if (token) allHeaders.Authorization = `Bearer ${token}`;
  let response: Response;
  try {
    response = await fetch(path, { ...rest, headers: allHeaders });
  } catch {
    throw new ApiError(0, "Cannot reach the monitor. Is `fedforge monitor` running?");
  }
  const text = await response.text();
  let body: unknown = null;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  if (!response.ok) throw new ApiError(response.status, describeFailure(response.status, body, path));
  return body as T;
}

const enc = encodeURIComponent;

export const api = {
  runs: () => request<RunSummary[]>("/api/runs"),
  run: (runId: string) => request<RunDetail>(`/api/runs/${enc(runId)}`),
  audit: (runId: string) => request<AuditEntry[]>(`/api/runs/${enc(runId)}/audit`),
  phases: () => request<PhaseInfo[]>("/api/phases"),
  comparison: () => request<Comparison>("/api/comparison"),
  checkToken: (token: string) => request<null>("/api/auth/check", { token }),
  control: (runId: string, action: "pause" | "resume" | "stop" | "start", token: string) =>
    request<ControlResult>(`/api/runs/${enc(runId)}/control/${action}`, { method: "POST", token }),
  startPhase: (phase: string, token: string) =>
    request<unknown>(`/api/phases/${enc(phase)}/start`, { method: "POST", token }),
};

/** The WebSocket URL for a run's events after `since` (same origin; Vite proxies it in dev). */
export function wsUrl(runId: string, since: number, loc: Location = window.location): string {
  const proto = loc.protocol === "https:" ? "wss:" : "ws:";
  return `${proto}//${loc.host}/api/ws?run_id=${enc(runId)}&since=${since}`;
}
