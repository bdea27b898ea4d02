#!/usr/bin/env bash
# Regenerates the protoc-c output committed in Sources/CResumableProto from
# proto/. With --check, regenerates into a temporary folder and fails when the
# committed files differ (the drift check `make proto-check` runs).
set -euo pipefail
cd "$(dirname "$0")/.."

out=Sources/CResumableProto
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

protos=$(cd proto && find . -name '*.proto' | sed 's|^\./||' | sort)
(cd proto && protoc-c --c_out="$tmp" $protos)

check=false
[ "${1:-}" = "--check" ] && check=true
status=0
for proto in $protos; do
  base=${proto%.proto}
  for pair in "$base.pb-c.h:include/$base.pb-c.h" "$base.pb-c.c:$base.pb-c.c"; do
    generated=$tmp/${pair%%:*}
    committed=$out/${pair##*:}
    if $check; then
      if ! cmp -s "$generated" "$committed"; then
        echo "stale: $committed differs from protoc-c output for proto/$proto (run 'make proto')" >&2
        status=1
      fi
    else
      mkdir -p "$(dirname "$committed")"
      cp "$generated" "$committed"
      echo "generated $committed"
    fi
  done
done
exit $status
