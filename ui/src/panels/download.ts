// Saving a file the API produced: fetched with the token, then handed to
// the browser as a download.

import { getBlob } from "../api/client";

export async function download(path: string, params: Record<string, string>, filename: string): Promise<void> {
  const blob = await getBlob(path, params);
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
