#!/bin/bash
# tail-processes.sh: the foreground's latency during background work,
# measured on separate `concord serve` processes (docs/benchmarks.md, "Tail
# latency under background work"). Each scenario starts three nodes on
# loopback; an open loop of RATE ops/s (YCSB-A, uniform over 1,000 keys of
# the synced namespace "bench", N=3 R=2 W=2) runs for 10 s (steady), then
# for WINDOW while the background work runs, then 10 s more (after). The
# background work is over 50,000 keys of a buffered namespace "bulk":
#
#   handoff  a fourth node joins and fetches its partitions;
#   hints    node 2 was stopped (SIGSTOP), and the keys written once nodes
#            0 and 1 held it down, with anti-entropy held to 1 key a
#            second: the hints nodes 0 and 1 kept are delivered once it
#            resumes (SIGCONT);
#   repair   the same with hint delivery held to 1 a second: anti-entropy
#            repairs node 2 (the line after the window says how many keys
#            it repaired);
#   resume   (a control, not run unless named) the same with both held:
#            node 2 resumes and nothing repairs it in the window;
#   slow     (not run unless named; root, cgroups) no background work:
#            node 2 is held to 3% of a core (a sick machine) for the
#            window, and the load goes through nodes 0 and 1. Reads ask
#            the replicas that answer fastest first, so this window should
#            stay near steady; asked in preference-list order, its p99 was
#            the 20 ms hedge delay.
#   stall    (not run unless named) no background work: node 2 stops
#            (SIGSTOP) for 200 ms every second of the window, as a process
#            stalled by its collector or its disk, too briefly for gossip
#            to declare it down; the load goes through nodes 0 and 1. A
#            read that asked node 2 waits until its hedge asks the third
#            replica.
#
# In hints and repair the load goes through nodes 0 and 1 in every window.
# Prints each window's p50/p99/p99.9 and how long the work took. Every
# process is stopped at the end.
#
#   internal/benchpeers/tail-processes.sh [CONCORD_BINARY]
#   SCENARIOS="handoff hints repair" RATE=400 WINDOW=10s ROUNDS=1 PORT=7910
#   (environment, defaults shown); KEEP=DIR keeps the logs there (the
#   nodes', and progress.log: each window's p99 second by second)
#
# Nothing else runs in the windows: the end of a handoff is awaited with
# one `concord cluster status --watch`, not by polling (a poll every 0.2 s
# through a pyenv python3 shim cost a third of a core, and inflated the
# handoff window's tail); the end of hint delivery or repair by one
# process reading the nodes' metrics every 0.5 s.
set -euo pipefail
BIN=${1:-}
RATE=${RATE:-400}; WINDOW=${WINDOW:-10s}; ROUNDS=${ROUNDS:-1}; PORT=${PORT:-7910}
SCENARIOS=${SCENARIOS:-handoff hints repair}
D=$(mktemp -d /tmp/concord-tail.XXXXXX)
PIDS=()
cleanup() { kill "${PIDS[@]}" 2>/dev/null || true; wait 2>/dev/null || true; keep; rm -rf "$D"; }
keep() { if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP" && cp "$D"/*.log "$KEEP"/; fi; }
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
admin() { echo "http://127.0.0.1:$(port "$1" 3)"; }
ADMIN="$(admin 0),$(admin 1),$(admin 2)"
measure() { # measure WINDOW-NAME DURATION (through the endpoints in EP)
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
until_metric() { # until_metric NAME LABEL-MATCH OP VALUE NODE...: until the metric, summed over
  # its samples matching LABEL-MATCH, compares OP (eq or ge) to VALUE on every NODE. One process
  # polls the nodes' metrics every 0.5 s over kept-alive connections, for at most 10 minutes: a
  # curl and an awk forked per poll were background work of their own on two cores
  # (docs/benchmarks.md, session 17).
  local a=("$1" "$2" "$3" "$4") n
  for n in "${@:5}"; do a+=("$(port "$n" 3)"); done
  python3 - "${a[@]}" <<'PY' || true
import http.client, os, sys, time
name, match, op, value, ports = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5:]
conns = [http.client.HTTPConnection("127.0.0.1", int(p), timeout=5) for p in ports]
auth = {"Authorization": "Bearer " + os.environ["CONCORD_ADMIN_TOKEN"]}
def total(c):
    c.request("GET", "/metrics", headers=auth)
    s = 0.0
    for line in c.getresponse().read().decode().splitlines():
        k, _, v = line.partition(" ")
        if k == name or (k.startswith(name + "{") and match in k):
            s += float(v)
    return s
for _ in range(1200):
    try:
        vals = [total(c) for c in conns]
    except (OSError, http.client.HTTPException):
        vals = None
        conns = [http.client.HTTPConnection(c.host, c.port, timeout=5) for c in conns]
    if vals is not None and all(v == value if op == "eq" else v >= value for v in vals):
        sys.exit(0)
    time.sleep(0.5)
sys.exit("gave up waiting for %s %s %d on ports %s" % (name, op, value, " ".join(ports)))
PY
}
elapsed() { python3 -c "import time; print(round(time.time() - $1, 1))"; }
until_down() { # until nodes 0 and 1 both hold a member dead (node 2, stopped), for at most a minute
  local n
  for n in 0 1; do
    for _ in $(seq 120); do
      "$BIN" cluster status -o json --endpoint "$(api "$n")" 2>/dev/null | python3 -c '
import json, sys
members = json.load(sys.stdin).get("members", [])
sys.exit(0 if any("DEAD" in m.get("state", "").upper() for m in members) else 1)' && break
      sleep 0.5
    done
  done
}
metric_sum() { # metric_sum NAME NODE...: NAME summed over its samples on every NODE, once
  local n s=0 v
  for n in "${@:2}"; do
    v=$(curl -s -m 5 -H "Authorization: Bearer $CONCORD_ADMIN_TOKEN" "$(admin "$n")/metrics" |
      awk -v m="$1" '$1 == m || index($1, m "{") == 1 { s += $2 } END { printf "%d", s }')
    s=$((s + ${v:-0}))
  done
  echo "$s"
}
load() { # load NAMESPACE DURABILITY RECORDS
  "$BIN" bench load --endpoint "$EP" --create-namespace --n 3 --r 2 --w 2 --durability "$2" --namespace "$1" \
    --records "$3" --value-size 100 >/dev/null 2>&1
}
start_cluster() { # three nodes, joined and committed
  PIDS=()
  for i in 0 1 2; do start $i "$1"; done
  sleep 2 # gossip
  "$BIN" cluster join "$(api 1)" --endpoint "$(api 0)" >/dev/null
  "$BIN" cluster join "$(api 2)" --endpoint "$(api 0)" >/dev/null
  "$BIN" cluster commit --endpoint "$(api 0)" >/dev/null
  handoff_wait
}
stop_cluster() {
  kill -CONT "${PIDS[@]}" 2>/dev/null || true
  kill "${PIDS[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
}
handoff() { # the round's data directories: $1
  EP="$(api 0),$(api 1),$(api 2)"
  start_cluster "$1"
  load bulk buffered 50000
  load bench sync 1000
  measure steady 10s
  start 3 "$1"
  sleep 2 # gossip
  "$BIN" cluster join "$(api 3)" --endpoint "$(api 0)" >/dev/null
  local t0
  t0=$(date +%s.%N)
  "$BIN" cluster commit --endpoint "$(api 0)" >/dev/null
  measure handoff "$WINDOW" &
  local m=$!
  handoff_wait
  echo "handoff  done after $(elapsed "$t0") s"
  wait $m
  measure after 10s
}
outage() { # outage hints|repair: node 2 misses the bulk keys, then catches up by the one kind of work
  local kind=$1 dir=$2 held
  EP="$(api 0),$(api 1)"
  start_cluster "$dir"
  case $kind in
    hints) held=(--aae-keys-per-second 1) ;;
    repair) held=(--hints-per-second 1) ;;
    resume) held=(--aae-keys-per-second 1 --hints-per-second 1) ;;
  esac
  "$BIN" cluster settings set "${held[@]}" --endpoint "$(api 0)" >/dev/null
  load bench sync 1000
  "$BIN" namespace create bulk --n 3 --r 2 --w 2 --durability buffered --endpoint "$(api 0)" >/dev/null
  measure steady 10s
  local t0 repaired
  repaired=$(metric_sum concord_aae_keys_repaired_total 0 1 2) # before node 2 stops: a stopped node does not answer
  kill -STOP "${PIDS[2]}"
  # Load once the others hold node 2 down, so that its writes become
  # hints: while it is only suspect, they wait in its replicate queue and
  # reach it all at once when it resumes, and the window measures that
  # burst instead of the hints or the repair.
  until_down
  load bulk buffered 50000
  t0=$(date +%s.%N)
  kill -CONT "${PIDS[2]}"
  measure "$kind" "$WINDOW" &
  local m=$!
  case $kind in
    hints) until_metric concord_hint_backlog "" eq 0 0 1 ;;
    repair) until_metric concord_namespace_stored_keys bulk ge 50000 2 ;;
  esac
  [ "$kind" = resume ] || printf "%-8s done after %s s\n" "$kind" "$(elapsed "$t0")"
  wait $m
  # Node 2 may also catch up from the replicates queued for it while it
  # was stopped: then a repair window measured little repair. Say so.
  repaired=$(($(metric_sum concord_aae_keys_repaired_total 0 1 2) - repaired))
  echo "         anti-entropy repaired $repaired keys"
  measure after 10s
}
slowed() { # slowed PID: put a process in a cgroup holding it to 3% of a core (v2 or v1); prints the group
  local g
  if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    g=/sys/fs/cgroup/concord-tail-slow
    echo +cpu >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
    mkdir -p $g && echo "3000 100000" >$g/cpu.max
  else
    g=/sys/fs/cgroup/cpu/concord-tail-slow
    mkdir -p $g && echo 100000 >$g/cpu.cfs_period_us && echo 3000 >$g/cpu.cfs_quota_us
  fi
  echo "$1" >$g/cgroup.procs
  echo $g
}
slow() { # node 2 slowed for the window, with no background work
  EP="$(api 0),$(api 1)"
  start_cluster "$1"
  load bench sync 1000
  measure steady 10s
  local g
  g=$(slowed "${PIDS[2]}")
  measure slow "$WINDOW"
  echo "${PIDS[2]}" >"$(dirname $g)/cgroup.procs"
  rmdir $g
  measure after 10s
}
stall() { # node 2 stalls for 200 ms every second of the window, with no background work
  EP="$(api 0),$(api 1)"
  start_cluster "$1"
  load bench sync 1000
  measure steady 10s
  measure stall "$WINDOW" &
  local m=$!
  timeout "$WINDOW" bash -c "while :; do sleep 0.8; kill -STOP ${PIDS[2]}; sleep 0.2; kill -CONT ${PIDS[2]}; done" || true
  kill -CONT "${PIDS[2]}"
  wait $m
  measure after 10s
}
for round in $(seq "$ROUNDS"); do
  for scenario in $SCENARIOS; do
    echo "round $round: $scenario"
    case $scenario in
      handoff) handoff "$round-$scenario" ;;
      hints | repair | resume) outage "$scenario" "$round-$scenario" ;;
      slow) slow "$round-$scenario" ;;
      stall) stall "$round-$scenario" ;;
      *) echo "unknown scenario $scenario (handoff, hints, repair, resume, slow, stall)" >&2; exit 2 ;;
    esac
    stop_cluster
  done
done
