#!/usr/bin/env bash
# What the elastic background budget does during a mass expiry whose webhooks all fail: seeds SEED
# (default 60000) invoices with expire_min 1 and a closed loopback callback, waits for their
# expiry to start, then alternates wrk creates (-t2 -c64) and rest, WIN (8) seconds each, scraping
# /metrics every half second. One line per window: expiries/s, creates/s, the mean
# invoiced_background_factor and scheduling-latency p99, and the server's CPU seconds
# (utime+stime from /proc), so main (no factor: 1.00, p99 0) and a branch compare in one run.
#
#   bash bench/wrk/elastic.sh [PROJECT_DIR]      BIN=path measures that binary instead of building
set -u
here=$(cd "$(dirname "$0")" && pwd)
proj=${1:-$PWD}
work=$(mktemp -d); pid=; spid=
trap '[ -n "$spid" ] && kill $spid 2>/dev/null; [ -n "$pid" ] && kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
if [ -n "${BIN:-}" ]; then cp "$BIN" "$work/invoiced"; else
  (cd "$proj" && go build -o "$work/invoiced" ./cmd/invoiced) || { echo "build failed"; exit 1; }
fi
port=$((20000 + RANDOM % 20000)); url=http://127.0.0.1:$port
akey=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
INVOICED_LISTEN=127.0.0.1:$port INVOICED_DATA_DIR=$work/data INVOICED_BOOTSTRAP_ACCOUNT_KEY=$akey INVOICED_RATE_LIMIT=0 \
  INVOICED_ALLOW_PRIVATE_CALLBACKS=true env ${EXTRA_ENV:-} "$work/invoiced" >"$work/log" 2>&1 & pid=$!
for i in $(seq 1 100); do curl -fsS "$url/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
export PERF_KEY=$(curl -fsS -X POST "$url/api/v1/projects" -H "Api-key: $akey" -H 'Content-Type: application/json' \
  -d '{"name":"storm"}' | sed -n 's/.*"api_key" *: *"\([0-9a-f]*\)".*/\1/p')
N=${SEED:-60000}
t0=$(date +%s)
n=0; while [ $n -lt $N ]; do
  c=$(EXPIRE_MIN=1 wrk -t2 -c64 -d3s -s "$here/create.lua" "$url" | sed -n 's/.*created=\([0-9]*\).*/\1/p'); n=$((n + ${c:-0}))
  [ "${c:-0}" -eq 0 ] && { echo "seeding failed"; exit 1; }
done
echo "seeded $n in $(( $(date +%s) - t0 )) s"
# scrape: unix time, expired total, factor, sched p99, server utime+stime ticks
( while :; do
    m=$(curl -fsS "$url/metrics")
    e=$(echo "$m" | awk '$1=="invoiced_invoices_expired_total"{print $2}')
    f=$(echo "$m" | awk '$1=="invoiced_background_factor"{print $2}')
    l=$(echo "$m" | awk '$1=="invoiced_background_sched_latency_p99_seconds"{print $2*1000}')
    echo "$(date +%s.%N) ${e:-0} ${f:-1} $(awk '{print $14+$15}' /proc/$pid/stat) ${l:-0}"
    sleep 0.5
  done ) >"$work/scrape" 2>/dev/null & spid=$!
# wait until expiries start (the first seeded invoice is due 60 s after t0)
sleep 30; awk '{s+=$5;n++} END{printf "before the expiry: sched_p99_ms=%.2f (mean of %d scrapes)\n", s/n, n}' "$work/scrape"
until [ -s "$work/scrape" ] && tail -1 "$work/scrape" | awk '{exit !($2 > 0)}'; do sleep 0.5; done
window() { # phase seconds
  local a b; a=$(tail -1 "$work/scrape")
  if [ "$1" = wrk ]; then r=$(wrk -t2 -c64 -d${2}s -s "$here/create.lua" "$url" | sed -n 's/.*rps=\([0-9]*\).*/\1/p'); else sleep "$2"; r=-; fi
  b=$(tail -1 "$work/scrape")
  awk -v a="$a" -v b="$b" -v ph="$1" -v r="$r" -v s="$work/scrape" 'BEGIN{split(a,x," ");split(b,y," ");
    dt=y[1]-x[1]; n=0; sum=0; while((getline l < s)>0){split(l,z," "); if(z[1]>=x[1]&&z[1]<=y[1]){sum+=z[3];ls+=z[5];n++}}
    printf "%-5s %5.1fs expiries/s=%6.0f creates/s=%6s factor=%.2f sched_p99_ms=%.2f cpu_s=%.1f expired=%d\n", ph, dt, (y[2]-x[2])/dt, r, (n?sum/n:0), (n?ls/n:0), (y[4]-x[4])/100, y[2]}'
}
for ph in wrk idle wrk idle wrk idle; do window $ph ${WIN:-8}; done
curl -fsS "$url/metrics" | grep '^invoiced_background_overloaded_total' || true
