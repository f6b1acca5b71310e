// Snapshots: the tenant's imported snapshots, opening one (from the
// server, or an .fgo file picked or dropped on the page — browsed with no
// server data behind it), and importing a file to the server.

import { useMemo, useState } from "preact/hooks";
import { getJson, postJson } from "../api/client";
import type { FgoDocument, SnapshotEntry } from "../api/types";
import { Chart, SERIES_COLORS } from "../charts/Chart";
import { FlameTree } from "../flame/tree";
import { clock } from "../view/time";
import type { ViewState } from "../view/url";
import { useFetch } from "../view/useFetch";
import { formatValue } from "../view/units";
import { download } from "./download";
import { FlameView } from "./FlameView";

/** Reads an .fgo file: gzip-compressed JSON (plain JSON is accepted too). */
export async function readFgo(file: Blob): Promise<FgoDocument> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let text: string;
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    text = await new Response(stream).text();
  } else text = new TextDecoder().decode(bytes);
  let doc: FgoDocument;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`not an .fgo file: ${(e as Error).message}`);
  }
  if (typeof doc.format_version !== "number" || !doc.flamegraph) throw new Error("not an .fgo file: no format_version or flamegraph");
  if (doc.format_version > 1) throw new Error(`this .fgo is format_version ${doc.format_version}; this page reads up to 1`);
  return doc;
}

interface Props {
  view: ViewState;
  opened: { doc: FgoDocument; name: string } | null;
  onOpen: (doc: FgoDocument, name: string) => void;
  onChange: (patch: Partial<ViewState>, replace?: boolean) => void;
  onError: (message: string) => void;
}

export function Snapshots({ view, opened, onOpen, onChange, onError }: Props) {
  const [reload, setReload] = useState(0);
  const list = useFetch(String(reload), (signal) => getJson<{ snapshots: SnapshotEntry[] }>("snapshots", {}, signal), onError);
  const openFile = (file: File) =>
    readFgo(file)
      .then((doc) => onOpen(doc, file.name))
      .catch((e) => onError(`${file.name}: ${e.message}`));
  const importFile = (file: File) =>
    file
      .arrayBuffer()
      .then((body) => postJson<{ id: string }>("import", body, "application/octet-stream", { name: file.name }))
      .then(() => setReload((r) => r + 1))
      .catch((e) => onError(`import ${file.name}: ${e.message}`));
  const openStored = (s: SnapshotEntry) =>
    getJson<FgoDocument>(`snapshots/${s.id}`)
      .then((doc) => onOpen(doc, s.name || s.id))
      .catch((e) => onError(e.message));
  return (
    <div class="snapshots">
      <section class="panel">
        <div class="panel-head">
          <span>open a snapshot</span>
          <span>
            <label class="file">
              open .fgo file
              <input type="file" accept=".fgo,application/gzip,application/json" data-testid="open-fgo" onChange={(e) => {
                const f = (e.target as HTMLInputElement).files?.[0];
                if (f) openFile(f);
              }} />
            </label>
            <label class="file">
              import to server
              <input type="file" data-testid="import-file" onChange={(e) => {
                const f = (e.target as HTMLInputElement).files?.[0];
                if (f) importFile(f);
              }} />
            </label>
          </span>
        </div>
        <p class="note">Or drop an .fgo file anywhere on the page.</p>
        <table class="list" data-testid="snapshot-list">
          <thead>
            <tr>
              <th>name</th>
              <th>stored</th>
              <th>profile</th>
              <th>total</th>
              <th>source</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {list.data?.snapshots.map((s) => (
              <tr key={s.id}>
                <td>{s.name || s.id}</td>
                <td>{s.stored}</td>
                <td>{s.profile_type}</td>
                <td>{formatValue(s.total, s.unit)}</td>
                <td>{s.source}</td>
                <td>
                  <button onClick={() => openStored(s)}>open</button>
                  <button onClick={() => download(`snapshots/${s.id}`, { format: "fgo" }, `${s.name || s.id}.fgo`).catch((e) => onError(e.message))}>download</button>
                </td>
              </tr>
            ))}
            {list.data && list.data.snapshots.length === 0 && (
              <tr>
                <td colSpan={6} class="empty small">
                  No snapshots stored. Import one above, or with <code>flarego import FILE</code>.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </section>
      {opened && <SnapshotView doc={opened.doc} name={opened.name} view={view} onChange={onChange} />}
    </div>
  );
}

/** One opened snapshot, drawn entirely from its document. */
export function SnapshotView({ doc, name, view, onChange }: { doc: FgoDocument; name: string; view: ViewState; onChange: Props["onChange"] }) {
  const tree = useMemo(() => new FlameTree(doc.flamegraph), [doc]);
  const [fn, setFn] = useState("");
  const tl = doc.timeline;
  const states = doc.goroutine_states;
  return (
    <section class="panel" data-testid="snapshot-view">
      <div class="panel-head">
        <span>
          snapshot <b data-testid="snapshot-name">{name}</b> · {doc.profile_type} · <code>{doc.selection.query}</code> · {clock(Date.parse(doc.selection.from))} → {clock(Date.parse(doc.selection.to))}
        </span>
        <span class="note">
          from {doc.provenance.server} {doc.provenance.server_version}, {doc.provenance.source}
        </span>
      </div>
      {tl && tl.times.length > 0 && (
        <Chart testid="timeline" times={tl.times.map((t) => t / 1e6)} series={tl.series.map((s, i) => ({ label: s.group || doc.profile_type, values: s.values, color: SERIES_COLORS[i % SERIES_COLORS.length] }))} unit={tl.unit} />
      )}
      {states && states.series.length > 0 && (
        <Chart times={states.times.map((t) => t / 1e6)} series={states.series.map((s, i) => ({ label: s.group, values: s.values, color: SERIES_COLORS[i % SERIES_COLORS.length] }))} unit="count" stacked height={110} />
      )}
      <FlameView
        tree={tree}
        unit={doc.unit}
        orientation={view.orientation}
        search={view.search}
        fn={fn}
        onChange={({ fn: picked, mode: _mode, ...rest }) => {
          if (picked !== undefined) setFn(picked);
          if (Object.keys(rest).length) onChange(rest, true);
        }}
      />
    </section>
  );
}
