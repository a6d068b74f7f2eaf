#!/bin/bash
# tail-processes.sh: the foreground's latency during a handoff, measured on
# separate `concord serve` processes (docs/benchmarks.md, "Tail latency
# under background work"). Three nodes on loopback hold 50,000 keys of a
# buffered namespace "bulk"; an open loop of RATE ops/s (YCSB-A, uniform
# over 1,000 keys of the synced namespace "bench", N=3 R=2 W=2) runs for
# 10 s (steady), then a fourth node joins and the same load runs for WINDOW
# (handoff), then 10 s more (after). Prints each window's p50/p99/p99.9 and
# how long the handoff took. Every process is stopped at the end.
#
#   internal/benchpeers/tail-processes.sh [CONCORD_BINARY]
#   RATE=400 WINDOW=10s ROUNDS=1 PORT=7910 (environment, defaults shown)
#
# Nothing else runs in the windows: the end of the handoff is awaited with
# one `concord cluster status --watch`, not by polling (a poll every 0.2 s
# through a pyenv python3 shim cost a third of a core, and inflated the
# handoff window's tail).
set -euo pipefail
BIN=${1:-}
RATE=${RATE:-400}; WINDOW=${WINDOW:-10s}; ROUNDS=${ROUNDS:-1}; PORT=${PORT:-7910}
D=$(mktemp -d /tmp/concord-tail.XXXXXX)
PIDS=()
cleanup() { kill "${PIDS[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$D"; }
trap cleanup EXIT
if [ -z "$BIN" ]; then
  BIN=$D/concord
  (cd "$(dirname "$0")/../.." && go build -o "$BIN" ./cmd/concord)
fi
export CONCORD_ADMIN_TOKEN=cca_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
export CONCORD_TOKEN=$CONCORD_ADMIN_TOKEN
port() { echo $((PORT + 10 * $1 + $2)); } # node, 0 api / 1 peer / 2 gossip / 3 admin
api() { echo "http://127.0.0.1:$(port "$1" 0)"; }
start() {
  local j=()
  [ "$1" -gt 0 ] && j=(--join "127.0.0.1:$(port 0 2)")
  "$BIN" serve --data-dir "$D/r$2/n$1" --api-addr "127.0.0.1:$(port "$1" 0)" --peer-addr "127.0.0.1:$(port "$1" 1)" \
    --gossip-addr "127.0.0.1:$(port "$1" 2)" --admin-addr "127.0.0.1:$(port "$1" 3)" --log-level warn "${j[@]}" \
    >"$D/r$2-n$1.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do curl -sf "$(api "$1")/readyz" >/dev/null 2>&1 && return; sleep 0.1; done
}
EP="$(api 0),$(api 1),$(api 2)"
ADMIN="http://127.0.0.1:$(port 0 3),http://127.0.0.1:$(port 1 3),http://127.0.0.1:$(port 2 3)"
measure() { # measure WINDOW-NAME DURATION
  "$BIN" bench run --endpoint "$EP" --namespace bench --records 1000 --value-size 100 --workload A \
    --distribution uniform --rate "$RATE" --duration "$2" --admin "$ADMIN" -o json 2>>"$D/progress.log" |
    python3 -c '
import json, sys
d = json.load(sys.stdin)
a = {l["op"]: l for l in d["latency"]}["all"]
print("%-8s %5.0f ops/s  p50 %6.2f  p99 %6.2f  p99.9 %6.2f ms  errors %d" % (sys.argv[1], d["throughput"], a["p50_ms"], a["p99_ms"], a["p99_9_ms"], d["errors"]))
' "$1"
}
handoff_wait() { # until the ring change's handoffs are done: one watching process, no polling
  timeout 600 "$BIN" cluster status --watch -o json --endpoint "$(api 0)" >/dev/null 2>&1
}
for round in $(seq "$ROUNDS"); do
  PIDS=()
  for i in 0 1 2; do start $i "$round"; done
  sleep 2 # gossip
  "$BIN" cluster join "$(api 1)" --endpoint "$(api 0)" >/dev/null
  "$BIN" cluster join "$(api 2)" --endpoint "$(api 0)" >/dev/null
  "$BIN" cluster commit --endpoint "$(api 0)" >/dev/null
  handoff_wait
  "$BIN" bench load --endpoint "$EP" --create-namespace --n 3 --r 2 --w 2 --durability buffered --namespace bulk \
    --records 50000 --value-size 100 >/dev/null 2>&1
  "$BIN" bench load --endpoint "$EP" --create-namespace --n 3 --r 2 --w 2 --durability sync --namespace bench \
    --records 1000 --value-size 100 >/dev/null 2>&1
  echo "round $round"
  measure steady 10s
  start 3 "$round"
  sleep 2 # gossip
  "$BIN" cluster join "$(api 3)" --endpoint "$(api 0)" >/dev/null
  t0=$(date +%s.%N)
  "$BIN" cluster commit --endpoint "$(api 0)" >/dev/null
  measure handoff "$WINDOW" &
  m=$!
  handoff_wait
  echo "handoff  done after $(python3 -c "import time; print(round(time.time() - $t0, 1))") s"
  wait $m
  measure after 10s
  kill "${PIDS[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
done
