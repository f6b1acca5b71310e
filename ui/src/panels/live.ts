// Live mode: one WebSocket per selection. Each update says a write
// landed; the view refreshes (at most once a second) while not paused.
// `lagged` messages are counted and shown: the view fell behind.

import { useEffect, useRef, useState } from "preact/hooks";
import { liveProtocols, liveUrl } from "../api/client";
import type { LiveMessage } from "../api/types";

export interface LiveStatus {
  connected: boolean;
  updates: number;
  missed: number;
  lastUpdate: number | null;
  error: string | null;
}

const MIN_REFRESH_MS = 1000;

export function useLive(enabled: boolean, paused: boolean, params: Record<string, string>, onRefresh: () => void): LiveStatus {
  const [status, setStatus] = useState<LiveStatus>({ connected: false, updates: 0, missed: 0, lastUpdate: null, error: null });
  const refresh = useRef(onRefresh);
  refresh.current = onRefresh;
  const pausedRef = useRef(paused);
  pausedRef.current = paused;
  const key = JSON.stringify(params);

  useEffect(() => {
    if (!enabled) return;
    let closed = false;
    let lastRefresh = 0;
    let timer = 0;
    let dirty = false;
    let cursor: number | null = null;
    let socket: WebSocket | null = null;
    let retry = 0;
    const flush = () => {
      timer = 0;
      if (!dirty || pausedRef.current) return;
      dirty = false;
      lastRefresh = Date.now();
      refresh.current();
    };
    const schedule = () => {
      dirty = true;
      if (timer) return;
      timer = window.setTimeout(flush, Math.max(0, lastRefresh + MIN_REFRESH_MS - Date.now()));
    };
    const connect = () => {
      const p: Record<string, string> = { ...params };
      if (cursor !== null) p.cursor = String(cursor);
      socket = new WebSocket(liveUrl(p), liveProtocols());
      socket.onopen = () => setStatus((s) => ({ ...s, connected: true, error: null }));
      socket.onmessage = (ev) => {
        const msg = JSON.parse(String(ev.data)) as LiveMessage;
        cursor = msg.cursor;
        if (msg.type === "update") {
          setStatus((s) => ({ ...s, updates: s.updates + 1, lastUpdate: Date.now() }));
          schedule();
        } else if (msg.type === "lagged") {
          setStatus((s) => ({ ...s, missed: s.missed + (msg.missed ?? 0) }));
          schedule();
        }
      };
      socket.onclose = (ev) => {
        setStatus((s) => ({ ...s, connected: false, error: closed ? null : `live connection closed (${ev.code}${ev.reason ? `: ${ev.reason}` : ""}); reconnecting` }));
        if (!closed) {
          retry = Math.min(retry + 1, 5);
          window.setTimeout(() => !closed && connect(), 500 * retry);
        }
      };
    };
    connect();
    const resume = window.setInterval(() => {
      if (!pausedRef.current && dirty && !timer) schedule();
    }, 500);
    return () => {
      closed = true;
      window.clearInterval(resume);
      if (timer) window.clearTimeout(timer);
      socket?.close();
    };
  }, [enabled, key]);
  return status;
}
