#!/usr/bin/env bash
# Server CPU per list page for each combination of list.lua alone, for one or more built invoiced
# binaries side by side: one server per binary, each seeded once (SEED, default 10000) through the
# API as ratio.sh seeds, then for each combination (COMBOS, default 1..16, "all" = the random mix)
# one wrk run per binary in turn (DUR, default 3s, CONNS connections, default 16), printing per
# binary "name:<CPU µs per page>us/<pages per second>rps/err<errors and wrong totals>". MAXPAGES="1 50"
# runs each combination once per deepest page in turn (name/p<deepest>:..., e.g. page 1 alone, with
# no offset to walk, beside pages 1-50); MAXPAGE alone (default 50) sets the one deepest page.
#
#   BINS="main:/tmp/main.bin branch:/tmp/branch.bin" bash bench/wrk/combos.sh
#
# HOLD=N keeps the servers N seconds after the runs (for profiles through INVOICED_PPROF_LISTEN,
# which reaches the servers, as every INVOICED_* variable does).
set -u
here=$(cd "$(dirname "$0")" && pwd)
dur=${DUR:-3s}; conns=${CONNS:-16}
work=$(mktemp -d); pids=()
trap 'for p in "${pids[@]}"; do kill $p 2>/dev/null; wait $p 2>/dev/null; done; rm -rf "$work"' EXIT
export PERF_SINCE=$(date -u -d '-1 min' +%Y-%m-%dT%H:%M:%SZ) PERF_UNTIL=$(date -u -d '+1 day' +%Y-%m-%dT%H:%M:%SZ)
declare -A port pid key total
for nb in $BINS; do
  n=${nb%%:*}; b=${nb#*:}
  p=$((20000 + RANDOM % 20000)); akey=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
  mkdir -p $work/$n; cp $b $work/$n/invoiced
  INVOICED_LISTEN=127.0.0.1:$p INVOICED_DATA_DIR=$work/$n/data INVOICED_BOOTSTRAP_ACCOUNT_KEY=$akey INVOICED_RATE_LIMIT=0 \
    $work/$n/invoiced >$work/$n/log 2>&1 & pids+=($!); pid[$n]=$!; port[$n]=$p
  for i in $(seq 1 100); do curl -fsS "http://127.0.0.1:$p/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  key[$n]=$(curl -fsS -X POST "http://127.0.0.1:$p/api/v1/projects" -H "Api-key: $akey" -H 'Content-Type: application/json' -d "{\"name\":\"perf-$RANDOM\"}" | sed -n 's/.*"api_key" *: *"\([0-9a-f]*\)".*/\1/p')
  export PERF_KEY=${key[$n]}
  need=${SEED:-10000}
  while [ $need -gt 0 ]; do
    PERF_QUOTA=$(((need + 1) / 2)) EXPIRE_MIN=43200 wrk -t2 -c64 -d$(( need > 40000 ? 5 : 1 ))s -s "$here/create.lua" "http://127.0.0.1:$p" >/dev/null 2>&1
    have=$(curl -fsS "http://127.0.0.1:$p/api/v1/invoices?page_size=1" -H "Api-key: ${key[$n]}" | sed -n 's/.*"total_records":\([0-9]*\).*/\1/p')
    need=$(( ${SEED:-10000} - have ))
  done
  total[$n]=$have; echo "$n seeded $have" >&2
done
sleep ${SETTLE:-3}
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
for k in ${COMBOS:-$(seq 1 16)}; do
  line="combo=$k"
  for mp in ${MAXPAGES:-${MAXPAGE:-50}}; do
    for nb in $BINS; do
      n=${nb%%:*}
      export PERF_KEY=${key[$n]} PERF_TOTAL=${total[$n]} PERF_MAXPAGE=$mp
      [ "$k" = all ] && unset LIST_COMBO || export LIST_COMBO=$k
      c0=$(cpu ${pid[$n]})
      out=$(wrk -t2 -c$conns -d$dur -s $here/list.lua http://127.0.0.1:${port[$n]} | grep rps=)
      c1=$(cpu ${pid[$n]})
      rps=$(echo "$out" | sed -n 's/.*rps=\([0-9.]*\).*/\1/p'); wr=$(echo "$out" | sed -n 's/.*errors=\([0-9]*\).*/\1/p')
      us=$(awk -v c=$((c1-c0)) -v hz=$(getconf CLK_TCK) -v r=$rps -v s=${dur%s} 'BEGIN{printf "%.1f", c/hz*1e6/(r*s)}')
      label=$n; [ -n "${MAXPAGES:-}" ] && label=$n/p$mp
      line="$line $label:${us}us/${rps}rps/err$wr"
    done
  done
  echo "$line"
done
[ -n "${HOLD:-}" ] && { echo "holding: ports ${port[@]} keys ${key[@]}"; sleep $HOLD; }
