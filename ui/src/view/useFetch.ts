// Fetch-on-change: runs a request when its key changes, aborts the one
// before, and hands errors to the caller instead of swallowing them.

import { useEffect, useState } from "preact/hooks";

export interface Fetched<T> {
  data: T | null;
  error: string | null;
  loading: boolean;
}

export function useFetch<T>(key: string | null, run: (signal: AbortSignal) => Promise<T>, onError?: (message: string) => void): Fetched<T> {
  const [state, setState] = useState<Fetched<T>>({ data: null, error: null, loading: false });
  useEffect(() => {
    if (key === null) {
      setState({ data: null, error: null, loading: false });
      return;
    }
    const abort = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    run(abort.signal)
      .then((data) => {
        if (!abort.signal.aborted) setState({ data, error: null, loading: false });
      })
      .catch((e: Error) => {
        if (abort.signal.aborted) return;
        setState({ data: null, error: e.message, loading: false });
        onError?.(e.message);
      });
    return () => abort.abort();
  }, [key]);
  return state;
}
