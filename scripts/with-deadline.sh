#!/usr/bin/env bash
# with-deadline.sh SECONDS COMMAND [ARGUMENT...]
#
# Runs COMMAND; if it has not ended after SECONDS, prints the stack of every
# thread of each test bundle running (gdb, when installed), stops them and the
# command, and exits 124. A test run that hangs then fails within its
# deadline, saying where it hung, instead of holding CI until CI's own limit.
set -uo pipefail

deadline=$1
shift

# The processes started by $1, and theirs.
descendants() {
  local pid
  for pid in $(pgrep -P "$1" || true); do
    echo "$pid"
    descendants "$pid"
  done
}

"$@" &
child=$!
end=$((SECONDS + deadline))

while kill -0 "$child" 2>/dev/null; do
  if ((SECONDS >= end)); then
    echo "with-deadline: '$*' has run for ${deadline} s: stopping it" >&2
    for pid in $(descendants "$child"); do
      grep -q '\.xctest' "/proc/$pid/cmdline" 2>/dev/null || continue
      echo "with-deadline: threads of $(tr '\0' ' ' <"/proc/$pid/cmdline" | cut -c1-200)" >&2
      if command -v gdb >/dev/null; then
        timeout 120 gdb -p "$pid" -batch -ex 'thread apply all bt 12' 2>/dev/null |
          grep -E '^(Thread|#)' | cut -c1-240 >&2
      fi
      kill -KILL "$pid" 2>/dev/null
    done
    kill -TERM "$child" 2>/dev/null
    sleep 5
    kill -KILL "$child" 2>/dev/null
    wait "$child" 2>/dev/null
    exit 124
  fi
  sleep 1
done
wait "$child"
