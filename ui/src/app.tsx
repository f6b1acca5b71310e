// The page: the view state from the URL, the mode tabs, the pickers, the
// errors (shown, never swallowed), the token dialog, and dropping an
// .fgo anywhere to open it.

import { useEffect, useState } from "preact/hooks";
import { onAuthNeeded } from "./api/client";
import type { FgoDocument } from "./api/types";
import { AuthDialog } from "./panels/Auth";
import { DiffView } from "./panels/DiffView";
import { Pickers } from "./panels/Pickers";
import { ProfileView } from "./panels/ProfileView";
import { readFgo, Snapshots } from "./panels/Snapshots";
import { Sql } from "./panels/Sql";
import type { Mode, ViewState } from "./view/url";
import { pushView, readView, viewSearch } from "./view/url";

const TABS: { mode: Mode; label: string }[] = [
  { mode: "single", label: "Flame graph" },
  { mode: "diff", label: "Diff" },
  { mode: "snapshots", label: "Snapshots" },
  { mode: "sql", label: "SQL" },
];

export function App() {
  const [view, setView] = useState<ViewState>(readView());
  const [errors, setErrors] = useState<{ id: number; message: string }[]>([]);
  const [authReason, setAuthReason] = useState<string | null>(null);
  const [authEpoch, setAuthEpoch] = useState(0);
  const [opened, setOpened] = useState<{ doc: FgoDocument; name: string } | null>(null);

  const onError = (message: string) => setErrors((list) => [...list.filter((e) => e.message !== message).slice(-4), { id: Date.now() + Math.random(), message }]);

  useEffect(() => {
    onAuthNeeded((reason) => setAuthReason(reason));
    const onPop = () => setView(readView());
    window.addEventListener("popstate", onPop);
    const onDragOver = (e: DragEvent) => e.preventDefault();
    const onDrop = (e: DragEvent) => {
      const file = e.dataTransfer?.files?.[0];
      if (!file) return;
      e.preventDefault();
      readFgo(file)
        .then((doc) => {
          setOpened({ doc, name: file.name });
          change({ mode: "snapshots" });
        })
        .catch((err) => onError(`${file.name}: ${err.message}`));
    };
    window.addEventListener("dragover", onDragOver);
    window.addEventListener("drop", onDrop);
    return () => {
      window.removeEventListener("popstate", onPop);
      window.removeEventListener("dragover", onDragOver);
      window.removeEventListener("drop", onDrop);
    };
  }, []);

  /** Applies a change to the view; `replace` edits the history entry in place (typing). */
  function change(patch: Partial<ViewState>, replace = false) {
    setView((v) => {
      const next = { ...v, ...patch };
      if (replace) history.replaceState(null, "", `${location.pathname}${viewSearch(next)}`);
      else pushView(next);
      return next;
    });
  }

  const mode = view.mode === "sandwich" ? "single" : view.mode;
  return (
    <div class="app" key={authEpoch}>
      <header>
        <a class="logo" href="./">
          Flare<b>Go</b>
        </a>
        <nav>
          {TABS.map((t) => (
            <button key={t.mode} class={mode === t.mode ? "on" : ""} data-testid={`tab-${t.mode}`} onClick={() => change({ mode: t.mode })}>
              {t.label}
            </button>
          ))}
        </nav>
      </header>
      {errors.length > 0 && (
        <div class="errors" data-testid="errors">
          {errors.map((e) => (
            <div class="error" key={e.id} data-testid="error">
              <span>{e.message}</span>
              <button class="link" onClick={() => setErrors((l) => l.filter((x) => x.id !== e.id))}>
                dismiss
              </button>
            </div>
          ))}
        </div>
      )}
      {(mode === "single" || mode === "diff") && <Pickers view={view} onChange={change} onError={onError} />}
      <main>
        {mode === "single" && <ProfileView view={view} onChange={change} onError={onError} />}
        {mode === "diff" && <DiffView view={view} onChange={change} onError={onError} />}
        {mode === "snapshots" && <Snapshots view={view} opened={opened} onOpen={(doc, name) => setOpened({ doc, name })} onChange={change} onError={onError} />}
        {mode === "sql" && <Sql />}
      </main>
      {authReason !== null && (
        <AuthDialog
          reason={authReason}
          onDone={() => {
            setAuthReason(null);
            setErrors([]);
            setAuthEpoch((n) => n + 1);
          }}
        />
      )}
    </div>
  );
}
