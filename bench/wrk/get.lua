-- GET seeded invoices round-robin: the ids are the lines of the file PERF_IDS, each thread
-- starting at its own share of them.
local ntid = 0 -- each thread's tid global is set from this in setup
local threads = {}
function setup(thread)
  thread:set("tid", ntid)
  ntid = ntid + 1
  table.insert(threads, thread)
end
function init(args)
  key = os.getenv("PERF_KEY") or ""
  ids = {}
  for line in io.lines(os.getenv("PERF_IDS")) do ids[#ids + 1] = line end
  if #ids == 0 then error("no ids in " .. os.getenv("PERF_IDS")) end
  next_id = (tid * 7919) % #ids
end
function request()
  next_id = next_id % #ids + 1
  return wrk.format("GET", "/api/v1/invoices/" .. ids[next_id], {["Api-key"]=key})
end
ok, other = 0, 0
function response(status, headers, body)
  if status == 200 then ok = ok + 1 else other = other + 1 end
end
function done(summary, latency, requests)
  local o, x = 0, 0
  for _, t in ipairs(threads) do o = o + t:get("ok"); x = x + t:get("other") end
  io.write(string.format("p50_ms=%.2f p99_ms=%.2f rps=%.0f errors=%d ok=%d non200=%d\n", latency:percentile(50)/1000, latency:percentile(99)/1000, summary.requests/(summary.duration/1e6), summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout + x, o, x))
end
