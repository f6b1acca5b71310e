// With `--auth jwt` the server answers 401 until a token is given: the
// page asks for one, keeps it in session storage (never in the URL) and
// asks again when the server refuses it (expired, revoked).

import { useState } from "preact/hooks";
import { setToken, token } from "../api/client";

/**
 * Why a token the server refused is bad, when the page can tell: the
 * server names no reason (by design), but a token's own `exp` claim is
 * readable without its key.
 */
export function tokenTrouble(t: string | null): string | null {
  if (!t) return null;
  try {
    const part = t.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const claims = JSON.parse(atob(part));
    if (typeof claims.exp === "number" && claims.exp * 1000 < Date.now()) {
      return `The token expired at ${new Date(claims.exp * 1000).toISOString()}.`;
    }
  } catch {
    return "The token is not a JWT.";
  }
  return null;
}

export function AuthDialog({ reason, onDone }: { reason: string; onDone: () => void }) {
  const [value, setValue] = useState("");
  const trouble = tokenTrouble(token());
  return (
    <div class="modal-backdrop">
      <form
        class="modal"
        data-testid="auth-dialog"
        onSubmit={(e) => {
          e.preventDefault();
          setToken(value.trim());
          onDone();
        }}
      >
        <h2>Sign in</h2>
        <p>
          This server needs a token.{" "}
          <span data-testid="auth-reason">
            {token() ? `It refused the one given (${reason}).` : reason} {trouble}
          </span>
        </p>
        <p class="note">
          An admin makes one with <code>flarego token --role reader --tenant T</code>. It is kept in this tab only.
        </p>
        <textarea data-testid="token-input" rows={4} value={value} onInput={(e) => setValue((e.target as HTMLTextAreaElement).value)} placeholder="eyJ…" />
        <button type="submit" data-testid="token-submit">
          use token
        </button>
      </form>
    </div>
  );
}
