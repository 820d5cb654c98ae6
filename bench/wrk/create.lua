-- POST unique invoices (a copy of /work/shared/perf/create.lua): order_id = run prefix - thread -
-- counter, so repeated runs never replay an earlier order_id (a replay is an idempotent 200, far
-- cheaper than a create). BODY=fiat prices the invoice in EUR (rate conversion); anything else
-- prices it in BTC. For seeding, PERF_QUOTA stops each thread after that many creates and
-- PERF_IDS appends each created invoice's id to the file PERF_IDS.<thread>. CB is the callback_url
-- (default a closed loopback port, whose webhooks all fail).
local counter = 0
local ntid = 0 -- each thread's tid global is set from this in setup
local threads = {}
function setup(thread)
  thread:set("tid", ntid)
  ntid = ntid + 1
  table.insert(threads, thread)
end
function init(args)
  key = os.getenv("PERF_KEY") or ""
  fiat = os.getenv("BODY") == "fiat"
  expire = os.getenv("EXPIRE_MIN")
  cb = os.getenv("CB") or "http://127.0.0.1:9/cb"
  quota = tonumber(os.getenv("PERF_QUOTA") or "")
  local ids = os.getenv("PERF_IDS")
  if ids then idfile = io.open(ids .. "." .. tid, "a") end
  local f = io.open("/dev/urandom", "rb")
  local b = f:read(6); f:close()
  prefix = string.format("%02x%02x%02x%02x%02x%02x", b:byte(1, 6))
end
function request()
  counter = counter + 1
  local amount = fiat and '"fiat_amount":29.99,"fiat_currency":"EUR"' or '"crypto_amount":0.001'
  if expire then amount = amount .. ',"expire_min":' .. expire end
  local body = string.format('{"order_id":"p-%s-%d-%d",%s,"currency":"BTC","callback_url":"%s"}', prefix, tid, counter, amount, cb)
  return wrk.format("POST", "/api/v1/invoices", {["Content-Type"]="application/json", ["Api-key"]=key}, body)
end
created, replayed, other = 0, 0, 0
function response(status, headers, body)
  if status == 201 then created = created + 1 elseif status == 200 then replayed = replayed + 1 else other = other + 1 end
  if idfile and status == 201 then idfile:write(body:match('"invoice_id":"([0-9a-f-]+)"'), "\n") end
  if quota and created >= quota then
    if idfile then idfile:flush() end
    wrk.thread:stop()
  end
end
function done(summary, latency, requests)
  local c, r = 0, 0
  for _, t in ipairs(threads) do c = c + t:get("created"); r = r + t:get("replayed") end
  io.write(string.format("p50_ms=%.2f p99_ms=%.2f rps=%.0f errors=%d created=%d replayed=%d\n", latency:percentile(50)/1000, latency:percentile(99)/1000, summary.requests/(summary.duration/1e6), summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, c, r))
end
