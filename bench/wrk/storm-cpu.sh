#!/usr/bin/env bash
# Where the server's CPU goes in the storm yardstick (../shared/perf/storm.sh): the same phases
# (2 s warm-up, 8 s quiet creates on a fresh store, ~100,000 creates with expire_min 1, 55 s wait,
# three 8 s create samples 10 s apart), plus per window the server's CPU (utime+stime from /proc)
# per create, CPU profiles of the quiet window (8 s) and of the storm samples (44 s), /metrics
# around the samples, and the storm profile split by what runs: the create handlers, Pebble
# compactions and flushes, the WAL writer, the expiry path, webhook delivery, GC.
#
#   bash bench/wrk/storm-cpu.sh [PROJECT_DIR]
#     BIN=path        measure that binary instead of building one
#     OUT=dir         keep profiles, metrics and the log there (default a temporary directory)
#     SLOW=1          callbacks go to a loopback receiver that answers 200 after 9 s (python3)
#     SEED_EXPIRE=N   the seeded invoices expire in N minutes (600: the control, nothing expires)
set -u
here=$(cd "$(dirname "$0")" && pwd)
proj=${1:-$PWD}
work=$(mktemp -d); out=${OUT:-$work/out}; mkdir -p "$out"; pid=; rpid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; [ -n "$rpid" ] && kill $rpid 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
if [ -n "${BIN:-}" ]; then cp "$BIN" "$work/invoiced"; else
  (cd "$proj" && go build -o "$work/invoiced" ./cmd/invoiced) || { echo "build failed"; exit 1; }
fi
cp "$work/invoiced" "$out/invoiced.bin"
if [ -n "${SLOW:-}" ]; then
  rport=$((40000 + RANDOM % 10000))
  python3 -c '
import http.server, sys, time
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0)); time.sleep(9)
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()' $rport & rpid=$!
  export CB=http://127.0.0.1:$rport/cb
fi
port=$((20000 + RANDOM % 20000)); url=http://127.0.0.1:$port; pprof=http://127.0.0.1:$((port + 1))
akey=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
INVOICED_PPROF_LISTEN=127.0.0.1:$((port + 1)) INVOICED_LISTEN=127.0.0.1:$port INVOICED_DATA_DIR=$work/data \
  INVOICED_BOOTSTRAP_ACCOUNT_KEY=$akey INVOICED_RATE_LIMIT=0 INVOICED_ALLOW_PRIVATE_CALLBACKS=true \
  "$work/invoiced" >"$out/server.log" 2>&1 & pid=$!
for i in $(seq 1 100); do curl -fsS "$url/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
export PERF_KEY=$(curl -fsS -X POST "$url/api/v1/projects" -H "Api-key: $akey" -H 'Content-Type: application/json' \
  -d '{"name":"storm"}' | sed -n 's/.*"api_key" *: *"\([0-9a-f]*\)".*/\1/p')
cpu() { awk '{print $14 + $15}' /proc/$pid/stat; }
rss() { awk '/^VmRSS/ {print int($2/1024)}' /proc/$pid/status; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }
# win: one 8 s wrk window, its line plus the server's CPU per create (background included).
win() {
  local c0 c1 l
  c0=$(cpu); l=$(wrk -t2 -c64 -d8s -s "$here/create.lua" "$url" | grep rps=); c1=$(cpu)
  echo "$l cpu_us_per_create=$(awk -v t=$((c1 - c0)) -v c="$(echo "$l" | field created)" 'BEGIN{printf "%.1f", t*10000/c}')"
}
wrk -t2 -c64 -d2s -s "$here/create.lua" "$url" >/dev/null 2>&1
curl -s "$pprof/debug/pprof/profile?seconds=8" -o "$out/cpu-quiet.pb.gz" & prof=$!
quiet=$(win); wait $prof; rss0=$(rss)
echo "quiet:  $quiet"
n=0; while [ $n -lt 100000 ]; do
  c=$(EXPIRE_MIN=${SEED_EXPIRE:-1} wrk -t2 -c64 -d4s -s "$here/create.lua" "$url" | field created); n=$((n + ${c:-0}))
  [ "${c:-0}" -eq 0 ] && { echo "seeding failed"; exit 1; }
done
sleep 55; lines0=$(wc -l <"$out/server.log")
curl -s "$url/metrics" >"$out/metrics-before.txt"
curl -s "$pprof/debug/pprof/profile?seconds=44" -o "$out/cpu-storm.pb.gz" & prof=$!
c0=$(cpu)
s1=$(win); sleep 10; s2=$(win); sleep 10; s3=$(win)
c1=$(cpu); wait $prof
curl -s "$url/metrics" >"$out/metrics-after.txt"
lines=$(($(wc -l <"$out/server.log") - lines0)); rss1=$(rss)
printf 'storm:  %s\n        %s\n        %s\n' "$s1" "$s2" "$s3"
expired() { awk '$1 == "invoiced_invoices_expired_total" {print $2}' "$1"; }
worst=$(printf '%s\n' "$s1" "$s2" "$s3" | field rps | sort -n | head -1)
echo "storm_ratio=$(awk -v a="$worst" -v b="$(echo "$quiet" | field rps)" 'BEGIN{printf "%.3f", a/b}') seeded=$n" \
  "window_cpu_s=$(awk -v t=$((c1 - c0)) 'BEGIN{print t/100}')" \
  "expired_in_window=$(awk -v a="$(expired "$out/metrics-before.txt")" -v b="$(expired "$out/metrics-after.txt")" 'BEGIN{print b - a}')" \
  "rss_growth_mb=$((rss1 - rss0)) log_lines=$lines"
# The split: cumulative seconds of the functions each kind of work runs under.
go tool pprof -top -cum -nodecount=100000 "$out/invoiced.bin" "$out/cpu-storm.pb.gz" 2>/dev/null | awk '
  / Total samples = / { for (i = 1; i <= NF; i++) if ($i == "=") { total = $(i + 1); sub("s", "", total) } }
  function sec(s) { if (s ~ /ms$/) { sub("ms", "", s); return s / 1000 } sub("s", "", s); return s + 0 }
  { cum[$6] = sec($4) }
  END {
    mb = cum["github.com/asynkron/protoactor-go/actor.(*defaultMailbox).run"]
    wh = cum["github.com/invoiced/invoiced/actors/webhook.(*delivererActor).Receive"]
    n = 0
    k[++n] = "create handlers (net/http)";                        v[n] = cum["net/http.(*conn).serve"]
    k[++n] = "compactions";                                       v[n] = cum["github.com/cockroachdb/pebble/v2.(*DB).compact1"]
    k[++n] = "flushes";                                           v[n] = cum["github.com/cockroachdb/pebble/v2.(*DB).flush1"]
    k[++n] = "WAL writer";                                        v[n] = cum["github.com/cockroachdb/pebble/v2/record.(*LogWriter).flushLoop"]
    k[++n] = "expiry (scheduler, invoice actors, group commits)"; v[n] = mb - wh + cum["github.com/invoiced/invoiced/persistence.(*Group).commit"]
    k[++n] = "  of which schedule reads";                         v[n] = cum["github.com/invoiced/invoiced/persistence.(*Store).DueExpiries"]
    k[++n] = "webhook deliverer (rounds)";                        v[n] = wh
    k[++n] = "GC (mark workers, sweep)";                          v[n] = cum["runtime.gcBgMarkWorker"] + cum["runtime.bgsweep"]
    k[++n] = "Go scheduler (mcall, findRunnable)";                v[n] = cum["runtime.mcall"] + cum["runtime.findRunnable"]
    printf "profile of the storm samples: %.2f s of CPU\n", total
    for (i = 1; i <= n; i++) printf "  %-52s %6.2f s  %5.1f %%\n", k[i], v[i], 100 * v[i] / total
  }'
