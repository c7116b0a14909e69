// Asks for the monitor's bearer token once (validated with GET /api/auth/check), keeps it in sessionStorage,
// and runs write actions with it. A 401 later forgets the token and asks again.
import { createContext, useCallback, useContext, useRef, useState, type ReactNode } from "react";
import { api, ApiError } from "@/api/client";
import { Button } from "@/components/ui/button";
import { Dialog, DialogContent, DialogDescription, DialogFooter, DialogHeader, DialogTitle } from "@/components/ui/dialog";
import { Input } from "@/components/ui/input";

export const TOKEN_KEY = "fedforge.monitor.token";

type Action = (token: string) => Promise<void>;

interface TokenApi {
  token: string | null;
  /** Run a write action with the token, asking for it first if we have none. */
  withToken: (action: Action) => Promise<void>;
  ask: () => void;
  forget: () => void;
}

const TokenContext = createContext<TokenApi | null>(null);

export function useToken(): TokenApi {
  const ctx = useContext(TokenContext);
  if (!ctx) throw new Error("useToken must be used inside <TokenProvider>");
  return ctx;
}

export function TokenProvider({ children }: { children: ReactNode }) {
  const [token, setToken] = useState<string | null>(() => sessionStorage.getItem(TOKEN_KEY));
  const [open, setOpen] = useState(false);
  const [value, setValue] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [checking, setChecking] = useState(false);
  const pending = useRef<Action | null>(null);

  const forget = useCallback(() => {
    sessionStorage.removeItem(TOKEN_KEY);
    setToken(null);
  }, []);

  const run = useCallback(
    async (action: Action, t: string) => {
      try {
        await action(t);
      } catch (e) {
        if (e instanceof ApiError && e.status === 401) {
          forget();
          pending.current = action;
          setError(e.message);
          setOpen(true);
          return;
        }
        throw e;
      }
    },
    [forget],
  );

  const withToken = useCallback(
    async (action: Action) => {
      if (token) return run(action, token);
      pending.current = action;
      setError(null);
      setOpen(true);
    },
    [token, run],
  );

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    const candidate = value.trim();
    if (!candidate) {
      setError("Paste the token printed by `fedforge monitor` (or `fedforge monitor token`).");
      return;
    }
    setChecking(true);
    try {
      await api.checkToken(candidate);
      sessionStorage.setItem(TOKEN_KEY, candidate);
      setToken(candidate);
      setOpen(false);
      setValue("");
      setError(null);
      const action = pending.current;
      pending.current = null;
      if (action) await run(action, candidate).catch(() => undefined);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setChecking(false);
    }
  };

  return (
    <TokenContext.Provider value={{ token, withToken, forget, ask: () => { setError(null); setOpen(true); } }}>
      {children}
      <Dialog open={open} onOpenChange={(o) => { setOpen(o); if (!o) pending.current = null; }}>
        <DialogContent data-testid="token-dialog">
          <form onSubmit={submit} className="grid gap-4">
            <DialogHeader>
              <DialogTitle>Monitor token</DialogTitle>
              <DialogDescription>
                Controls need the bearer token the monitor printed on its first start. Show it again with{" "}
                <code className="rounded bg-muted px-1">fedforge monitor token</code>. It is kept for this browser tab only.
              </DialogDescription>
            </DialogHeader>
            <Input
              aria-label="token"
              type="password"
              autoComplete="off"
              value={value}
              onChange={(e) => setValue(e.target.value)}
              aria-invalid={error ? true : undefined}
              autoFocus
            />
            {error && <p role="alert" className="text-sm text-destructive">{error}</p>}
            <DialogFooter>
              <Button type="submit" disabled={checking}>{checking ? "Checking…" : "Use token"}</Button>
            </DialogFooter>
          </form>
        </DialogContent>
      </Dialog>
    </TokenContext.Provider>
  );
}
