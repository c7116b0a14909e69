import { useEffect, useState } from "react";

/** The wall clock in unix seconds, ticking every `intervalMs`: elapsed times and liveness age with it. */
export function useNow(intervalMs: number): number {
  const [now, setNow] = useState(() => Date.now() / 1000);
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now() / 1000), intervalMs);
    return () => clearInterval(t);
  }, [intervalMs]);
  return now;
}
