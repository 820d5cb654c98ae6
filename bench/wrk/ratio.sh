#!/usr/bin/env bash
# Throughput of invoiced's create, get or list as a ratio to a trivial httprouter handler
# (bench/wrk/baseline) doing the same HTTP work without storage, both driven by the same wrk run
# shape in the same run: built like the customer's /work/shared/perf/create-ratio.sh (warm both,
# then A B A B at wrk -t2 -c64, the better of each).
#
#   bash bench/wrk/ratio.sh MODE [PROJECT_DIR]        MODE = create | get | list, or a comma list
#
# Prints per mode "ratio=R invoiced_rps=A baseline_rps=B p99_ms=P non2xx_or_errors=E replayed=X
# body=.. mode=M stored=N cpu_us=C base_cpu_us=D" where C and D are the server's and the
# baseline's CPU (utime+stime from /proc) per request, the lower of their two runs; exits 0 when
# every R >= MIN_RATIO (default 0.5 for create as the customer's script, 0.8 for get, 0 for list)
# with no errors or replays.
#
# Environment: DUR (8s) and CONNS (64) per run; BODY=fiat as create-ratio.sh; SEED=N creates N
# invoices through the API before measuring (default 10000 for get and list, 0 for create);
# SIZES=10000,100000,1000000 instead measures every mode at each of those stored-invoice counts
# in turn, seeding up to each (the growth table; creates measured last at each size add to the
# store, and stored= says how many it held at the start of each mode); BIN=path measures that
# invoiced binary instead of building PROJECT_DIR's; MAXPAGE (50) is the deepest list page;
# LIST_COMBO=k (1-16) asks one list combination of list.lua only; SETTLE_MAX (60) bounds the wait
# for a quiet store before each mode, in seconds; GET_SAMPLE (100000) is how many
# of the stored ids, drawn at random, get reads round-robin: the default misses every cache of
# fewer entries (the worst case), a smaller sample is a working set that fits them (a store that
# grew, read where its traffic is). Before each mode the script waits
# until the store has had no flush or compaction running for a second (at most SETTLE_MAX s).
# Any INVOICED_* variable reaches the server, e.g. INVOICED_PPROF_LISTEN=127.0.0.1:6060.
set -u
modes=${1:?usage: ratio.sh create|get|list[,..] [PROJECT_DIR]}
here=$(cd "$(dirname "$0")" && pwd)
proj=${2:-$PWD}
dur=${DUR:-8s}
conns=${CONNS:-64}
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill $p 2>/dev/null; wait $p 2>/dev/null; done; rm -rf "$work"' EXIT
command -v wrk >/dev/null || { echo "wrk missing (apt-get install wrk)"; exit 2; }
if [ -n "${BIN:-}" ]; then cp "$BIN" "$work/invoiced"; else
  (cd "$proj" && go build -o "$work/invoiced" ./cmd/invoiced) || { echo "build failed"; exit 1; }
fi
(cd "$here" && go build -o "$work/baseline" ./baseline) || { echo "baseline build failed"; exit 1; }
port=$((20000 + RANDOM % 20000)); bport=$((port + 1))
akey=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
export PERF_SINCE=$(date -u -d '-1 min' +%Y-%m-%dT%H:%M:%SZ) PERF_UNTIL=$(date -u -d '+1 day' +%Y-%m-%dT%H:%M:%SZ)
INVOICED_LISTEN=127.0.0.1:$port INVOICED_DATA_DIR=$work/data INVOICED_BOOTSTRAP_ACCOUNT_KEY=$akey INVOICED_RATE_LIMIT=0 \
  "$work/invoiced" >"$work/server.log" 2>&1 & pids+=($!)
"$work/baseline" 127.0.0.1:$bport & pids+=($!)
spid=${pids[0]} bpid=${pids[1]}
for i in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
pkey=$(curl -fsS -X POST "http://127.0.0.1:$port/api/v1/projects" -H "Api-key: $akey" -H 'Content-Type: application/json' \
  -d "{\"name\":\"perf-$RANDOM\"}" | sed -n 's/.*"api_key" *: *"\([0-9a-f]*\)".*/\1/p')
[ -n "$pkey" ] || { echo "could not create a project"; tail -5 "$work/server.log"; exit 1; }
export PERF_KEY=$pkey PERF_IDS=$work/ids PERF_MAXPAGE=${MAXPAGE:-50}

# stored prints the project's invoice count (total_records of the first page).
stored() {
  curl -fsS "http://127.0.0.1:$port/api/v1/invoices?page_size=1" -H "Api-key: $pkey" | sed -n 's/.*"total_records":\([0-9]*\).*/\1/p'
}
# seed_to N creates invoices (30-day expiry, so none expires during the run) until the project
# holds N, recording their ids, and leaves a sample of at most GET_SAMPLE (100,000) ids in
# $work/get-ids.
seed_to() {
  local have need
  local have need t0=$(date +%s.%N) from
  have=$(stored) from=$have
  # wrk runs for its whole duration even when every thread has stopped: short runs, each with
  # what is left as its quota
  while need=$(($1 - have)); [ "$need" -gt 0 ]; do
    PERF_QUOTA=$(((need + 1) / 2)) EXPIRE_MIN=43200 wrk -t2 -c$conns -d$(( need > 40000 ? 5 : 1 ))s -s "$here/create.lua" "http://127.0.0.1:$port" >/dev/null 2>&1
    have=$(stored)
  done
  [ "$have" -gt "$from" ] && echo "seeded $((have - from)) invoices in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s" >&2
  cat "$work"/ids.* 2>/dev/null | shuf -n "${GET_SAMPLE:-100000}" >"$work/get-ids"
}
# settle waits (at most SETTLE_MAX seconds, default 60) until the server's store has run no flush or
# compaction for a second, as invoicebench does between phases, so a phase is not charged for the
# writes of the one before; it says on stderr when it gave up waiting.
settle() {
  local quiet=0 jobs i
  for i in $(seq 1 $((${SETTLE_MAX:-60} * 5))); do
    jobs=$(curl -fsS "http://127.0.0.1:$port/metrics" | awk '/^invoiced_pebble_background_jobs/ {n += $2} END {print n + 0}')
    if [ "$jobs" = 0 ]; then quiet=$((quiet + 1)); else quiet=0; fi
    [ "$quiet" -ge 5 ] && return
    sleep 0.2
  done
  echo "settle: the store was still flushing or compacting after ${SETTLE_MAX:-60} s" >&2
}
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }
# run URL PID: one measured wrk run, its output line plus cpu=<µs of PID's CPU per request>.
run() {
  local c0 out c1 rps secs
  c0=$(cpu "$2")
  # the baseline's fixed page has no true total to check
  out=$([ "$2" = "$bpid" ] && unset PERF_TOTAL; wrk -t2 -c$conns -d$dur -s "$lua" "$1" | grep rps=)
  c1=$(cpu "$2")
  rps=$(echo "$out" | field rps)
  secs=$(echo "$dur" | sed 's/s$//')
  echo "$out cpu=$(awk -v c="$((c1 - c0))" -v hz="$(getconf CLK_TCK)" -v r="$rps" -v s="$secs" 'BEGIN{printf "%.1f", c/hz*1e6/(r*s)}')"
}
fail=0
# measure MODE: warm both, A B A B, one summary line.
measure() {
  local mode=$1 n
  lua=$here/$mode.lua
  n=$(stored)
  [ "$mode" = list ] && export PERF_TOTAL=$n || unset PERF_TOTAL
  [ "$mode" = get ] && export PERF_IDS=$work/get-ids || export PERF_IDS=$work/ids
  [ "$mode" = create ] && unset PERF_IDS
  settle
  wrk -t2 -c$conns -d2s -s "$lua" "http://127.0.0.1:$port" >/dev/null 2>&1
  wrk -t2 -c$conns -d2s -s "$lua" "http://127.0.0.1:$bport" >/dev/null 2>&1
  local a1 b1 a2 b2 ra rb ea p99 ratio rep ca cb min
  a1=$(run "http://127.0.0.1:$port" "$spid")
  b1=$(run "http://127.0.0.1:$bport" "$bpid")
  a2=$(run "http://127.0.0.1:$port" "$spid")
  b2=$(run "http://127.0.0.1:$bport" "$bpid")
  ra=$(printf '%s\n%s\n' "$a1" "$a2" | field rps | sort -n | tail -1)
  rb=$(printf '%s\n%s\n' "$b1" "$b2" | field rps | sort -n | tail -1)
  ea=$(printf '%s\n%s\n' "$a1" "$a2" | field errors | sort -n | tail -1)
  p99=$(printf '%s\n%s\n' "$a1" "$a2" | field p99_ms | sort -n | head -1)
  ca=$(printf '%s\n%s\n' "$a1" "$a2" | field cpu | sort -n | head -1)
  cb=$(printf '%s\n%s\n' "$b1" "$b2" | field cpu | sort -n | head -1)
  ratio=$(awk -v a="$ra" -v b="$rb" 'BEGIN{printf "%.3f", a/b}')
  echo "invoiced: $a1 | $a2"
  echo "baseline: $b1 | $b2"
  rep=$(printf '%s\n%s\n' "$a1" "$a2" | field replayed | sort -n | tail -1)
  rep=${rep:-0}
  echo "ratio=$ratio invoiced_rps=$ra baseline_rps=$rb p99_ms=$p99 non2xx_or_errors=$ea replayed=$rep body=${BODY:-crypto} mode=$mode stored=$n cpu_us=$ca base_cpu_us=$cb" | tee -a "$work/summary"
  case $mode in create) min=${MIN_RATIO:-0.5} ;; get) min=${MIN_RATIO:-0.8} ;; *) min=${MIN_RATIO:-0} ;; esac
  awk -v r="$ratio" -v m="$min" -v e="$ea" -v x="$rep" 'BEGIN{exit !(r >= m && e == 0 && x == 0)}' || fail=1
}

if [ -n "${SIZES:-}" ]; then
  for size in ${SIZES//,/ }; do
    seed_to "$size"
    for mode in ${modes//,/ }; do measure "$mode"; done
  done
  # the growth table: per mode, each size's throughput, ratio and CPU, then its throughput and
  # its CPU per request relative to the first size's (the CPU figure survives a busy machine)
  echo "| mode | stored | req/s | ratio to trivial | server CPU/req | req/s vs first size | first size's CPU/req vs this |"
  echo "|---|---|---|---|---|---|---|"
  awk '{for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
        m = f["mode"]
        if (!(m in rps)) { rps[m] = f["invoiced_rps"]; cpu[m] = f["cpu_us"] }
        printf "| %s | %d | %d | %s | %s µs | %.2f | %.2f |\n", m, f["stored"], f["invoiced_rps"], f["ratio"], f["cpu_us"], f["invoiced_rps"] / rps[m], cpu[m] / f["cpu_us"]}' "$work/summary" | sort -t'|' -k2,2 -s
else
  case ,$modes, in *,get,*|*,list,*) def=10000 ;; *) def=0 ;; esac
  seed_to "${SEED:-$def}"
  for mode in ${modes//,/ }; do measure "$mode"; done
fi
exit $fail
