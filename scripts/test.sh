#!/usr/bin/env bash
# Runs every FlareGo test. Installs what the tests need when it is missing:
# Debian's golang-go (the Go workload and `go tool pprof`), openssl (keys
# and certificates for the security tests), curl (requests exactly as a
# browser sends them), util-linux's prlimit (a server out of file
# descriptors), the Python modules duckdb (the open-files check) and
# jsonschema (the .fgo schema check), moto[server] (a real S3-compatible
# server for the object-store tests), adbc-driver-flightsql with pyarrow
# (ADBC's Flight SQL client), Node.js and Debian's chromium (the
# web UI is rebuilt and checked against the committed bundle, then
# driven in a headless browser) and the UI's npm packages from
# ui/package-lock.json. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/flarego/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi

apt_missing=()
command -v go >/dev/null 2>&1 || apt_missing+=(golang-go)
command -v openssl >/dev/null 2>&1 || apt_missing+=(openssl)
command -v curl >/dev/null 2>&1 || apt_missing+=(curl)
command -v prlimit >/dev/null 2>&1 || apt_missing+=(util-linux)
command -v node >/dev/null 2>&1 || apt_missing+=(nodejs npm)
command -v chromium >/dev/null 2>&1 || apt_missing+=(chromium)
if [ "${#apt_missing[@]}" -gt 0 ]; then
  echo "installing ${apt_missing[*]} (apt)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${apt_missing[@]}"
fi
for module in duckdb jsonschema; do
  if ! python3 -c "import $module" >/dev/null 2>&1; then
    echo "installing $module (pip)"
    python3 -m pip install --quiet "$module"
  fi
done
if ! python3 -c "import adbc_driver_flightsql, adbc_driver_manager, pyarrow" >/dev/null 2>&1; then
  echo "installing adbc-driver-flightsql (pip)"
  python3 -m pip install --quiet "adbc-driver-flightsql==1.13.0" "adbc-driver-manager==1.13.0" pyarrow
fi
if ! command -v moto_server >/dev/null 2>&1; then
  echo "installing moto[server] (pip)"
  python3 -m pip install --quiet "moto[server]"
fi
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "installing cargo-nextest (cargo)"
  cargo install --locked cargo-nextest
fi

# The web UI: packages from the lockfile, a type check, a rebuild that
# must equal the committed bundle (the binary embeds ui/dist).
(
  cd ui
  lock_sum="$(sha256sum package-lock.json | cut -d' ' -f1)"
  if [ "$(cat node_modules/.installed-lock 2>/dev/null)" != "$lock_sum" ]; then
    npm ci --no-audit --no-fund
    echo "$lock_sum" > node_modules/.installed-lock
  fi
  npx tsc --noEmit -p .
  node build.mjs
)
if ! git diff --quiet -- ui/dist; then
  git diff --stat -- ui/dist
  echo "ui/dist differs from a fresh build of ui/src: run (cd ui && npm run build) and commit ui/dist" >&2
  exit 1
fi

# The end-to-end tests start the real binary.
cargo build --bin flarego
cargo nextest run --workspace --no-fail-fast "$@"
