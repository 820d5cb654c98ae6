#!/usr/bin/env bash
# An execution trace of invoiced serving durable creates, for bench/wrk/traceslow: starts the
# server on a fresh store (BIN=path, or PROJECT_DIR's build), creates a project, warms it with
# 2 s of wrk, then runs wrk -t2 -c64 for 10 s (create.lua, BODY=fiat as create-ratio.sh) and takes
# /debug/pprof/trace?seconds=${SECS:-3} from its 4th second. Prints wrk's line; the trace is
# written to OUT (default ./create.trace).
#
#   bash bench/wrk/tracecreate.sh [PROJECT_DIR]
#   (cd bench/wrk/traceslow && go run . ../../../create.trace)
set -u
here=$(cd "$(dirname "$0")" && pwd)
proj=${1:-$PWD}
out=${OUT:-$PWD/create.trace}
command -v wrk >/dev/null || { echo "wrk missing (apt-get install wrk)"; exit 2; }
work=$(mktemp -d)
spid=
trap '[ -n "$spid" ] && kill $spid && wait $spid; rm -rf "$work"' EXIT
if [ -n "${BIN:-}" ]; then cp "$BIN" "$work/invoiced"; else
  (cd "$proj" && go build -o "$work/invoiced" ./cmd/invoiced) || { echo "build failed"; exit 1; }
fi
port=$((20000 + RANDOM % 20000)); pp=$((port + 2))
akey=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
INVOICED_PPROF_LISTEN=127.0.0.1:$pp INVOICED_LISTEN=127.0.0.1:$port INVOICED_DATA_DIR=$work/data \
  INVOICED_BOOTSTRAP_ACCOUNT_KEY=$akey INVOICED_RATE_LIMIT=0 "$work/invoiced" >"$work/server.log" 2>&1 &
spid=$!
for i in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
pkey=$(curl -fsS -X POST "http://127.0.0.1:$port/api/v1/projects" -H "Api-key: $akey" -H 'Content-Type: application/json' \
  -d "{\"name\":\"trace-$RANDOM\"}" | sed -n 's/.*"api_key" *: *"\([0-9a-f]*\)".*/\1/p')
[ -n "$pkey" ] || { echo "could not create a project"; tail -5 "$work/server.log"; exit 1; }
export PERF_KEY=$pkey
wrk -t2 -c64 -d2s -s "$here/create.lua" "http://127.0.0.1:$port" >/dev/null 2>&1
(sleep 4; curl -fsS -o "$out" "http://127.0.0.1:$pp/debug/pprof/trace?seconds=${SECS:-3}") & tp=$!
wrk -t2 -c64 -d10s -s "$here/create.lua" "http://127.0.0.1:$port" | grep rps=
wait $tp
