// Every request the UI makes goes through here: the bearer token (kept in
// session storage, never in the URL), errors turned into messages, and a
// 401 turned into a request for a new token.

const TOKEN_KEY = "flarego.token";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

type AuthListener = (reason: string) => void;
let authListener: AuthListener = () => {};

/** Called when the server answers 401: the app asks for a token. */
export function onAuthNeeded(listener: AuthListener): void {
  authListener = listener;
}

export function token(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value: string | null): void {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

function headers(extra?: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = { ...extra };
  const t = token();
  if (t) out["Authorization"] = `Bearer ${t}`;
  return out;
}

async function failure(res: Response): Promise<ApiError> {
  let message = `${res.status} ${res.statusText}`;
  try {
    const text = await res.text();
    try {
      const body = JSON.parse(text);
      if (body && typeof body.error === "string") message = body.error;
      else if (text) message = text;
    } catch {
      if (text) message = text;
    }
  } catch {
    // the body could not be read; the status line stands
  }
  if (res.status === 401) authListener(message);
  return new ApiError(res.status, message);
}

export type Params = Record<string, string | number | boolean | undefined | null>;

export function queryString(params: Params): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

/** GET a JSON document from `/api/v1/<path>`. */
export async function getJson<T>(path: string, params: Params = {}, signal?: AbortSignal): Promise<T> {
  const res = await fetch(`api/v1/${path}${queryString(params)}`, { headers: headers(), signal });
  if (!res.ok) throw await failure(res);
  return (await res.json()) as T;
}

/** GET a file from `/api/v1/<path>` as bytes. */
export async function getBlob(path: string, params: Params = {}): Promise<Blob> {
  const res = await fetch(`api/v1/${path}${queryString(params)}`, { headers: headers() });
  if (!res.ok) throw await failure(res);
  return await res.blob();
}

/** POST a body to `/api/v1/<path>`, answer as JSON. */
export async function postJson<T>(path: string, body: BodyInit, contentType: string, params: Params = {}): Promise<T> {
  const res = await fetch(`api/v1/${path}${queryString(params)}`, {
    method: "POST",
    headers: headers({ "Content-Type": contentType }),
    body,
  });
  if (!res.ok) throw await failure(res);
  return (await res.json()) as T;
}

/** The live WebSocket URL for a selection. */
export function liveUrl(params: Params): string {
  const url = new URL(`api/v1/live${queryString(params)}`, location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.toString();
}

/**
 * WebSocket subprotocols carrying the token: browsers cannot set an
 * Authorization header on a WebSocket, so the token goes as
 * `bearer.<token>` beside `flarego.live.v1`, which the server picks.
 */
export function liveProtocols(): string[] {
  const t = token();
  return t ? ["flarego.live.v1", `bearer.${t}`] : ["flarego.live.v1"];
}
