#!/usr/bin/env bash
# Builds examples/custom-plugin (a separate package depending on this one) and
# runs it for real: its own sidecar with the embedded Redis, a run through its
# `shout` plugin, and a check of the artifact. Run by `make example`.
set -euo pipefail
cd "$(dirname "$0")/../examples/custom-plugin"
swift build
work=$(mktemp -d /tmp/rsm-example-XXXXXX)
serve_pid=""
cleanup() {
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
bin=.build/debug/my-sidecar
"$bin" serve --socket "$work/s.sock" --data-dir "$work/data" --workflows workflows.yaml --log-level warning &
serve_pid=$!
for _ in $(seq 1 200); do
  [ -S "$work/s.sock" ] && break
  sleep 0.05
done
"$bin" start shout-twice --id example-1 --input '"hello"' --socket "$work/s.sock"
state=$("$bin" state example-1 --artifacts --json --socket "$work/s.sock")
if ! grep -q 'HELLO!!!' <<<"$state"; then
  echo "custom plugin example: the artifact is not the shouted text:" >&2
  echo "$state" >&2
  exit 1
fi
echo "custom plugin example: the shout plugin ran in its own sidecar"
