#!/usr/bin/env bash
# Regenerates, from proto/, the code committed for it:
# - Sources/CResumableProto: the protoc-c output (C structs and functions);
# - Sources/ResumableWire/Generated: the Swift value types and their protobuf-c
#   conversions, by scripts/protoc-gen-resumable-swift (a protoc plugin);
# - clients/python/resumable_client/resumable_pb2.py: the Python SDK's messages
#   (stock protoc), so that `pip install ./clients/python` needs no protoc.
# With --check, regenerates into a temporary folder and fails when the
# committed files differ (the drift check `make proto-check` runs).
set -euo pipefail
cd "$(dirname "$0")/.."

c_out=Sources/CResumableProto
swift_out=Sources/ResumableWire/Generated
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check=false
[ "${1:-}" = "--check" ] && check=true
status=0

# Compares (--check) or copies a generated file onto the committed one.
publish() {
  local generated=$1 committed=$2 proto=$3
  if $check; then
    if ! cmp -s "$generated" "$committed"; then
      echo "stale: $committed differs from what proto/$proto generates (run 'make proto')" >&2
      status=1
    fi
  else
    mkdir -p "$(dirname "$committed")"
    cp "$generated" "$committed"
    echo "generated $committed"
  fi
}

protos=$(cd proto && find . -name '*.proto' | sed 's|^\./||' | sort)
(cd proto && protoc-c --c_out="$tmp" $protos)
for proto in $protos; do
  base=${proto%.proto}
  publish "$tmp/$base.pb-c.h" "$c_out/include/$base.pb-c.h" "$proto"
  publish "$tmp/$base.pb-c.c" "$c_out/$base.pb-c.c" "$proto"
done

# The Swift plugin maps one .proto (its output names are fixed).
[ "$(echo "$protos" | wc -l)" = 1 ] || { echo "protoc-gen-resumable-swift maps one .proto; found: $protos" >&2; exit 1; }
mkdir -p "$tmp/swift"
protoc --plugin=protoc-gen-resumable-swift=scripts/protoc-gen-resumable-swift \
  --resumable-swift_out="$tmp/swift" -I proto $protos
for generated in "$tmp"/swift/*; do
  publish "$generated" "$swift_out/$(basename "$generated")" "$protos"
done
# A committed file the plugin no longer writes is stale too.
for committed in "$swift_out"/*; do
  [ -e "$committed" ] || continue
  [ -e "$tmp/swift/$(basename "$committed")" ] && continue
  if $check; then
    echo "stale: $committed is no longer generated from proto/ (run 'make proto')" >&2
    status=1
  else
    rm "$committed"
    echo "removed $committed"
  fi
done

# The Python SDK's module (one .proto, as above).
mkdir -p "$tmp/python"
protoc -I proto/resumable/v1 --python_out="$tmp/python" proto/resumable/v1/resumable.proto
publish "$tmp/python/resumable_pb2.py" clients/python/resumable_client/resumable_pb2.py "$protos"
exit $status
