-- GET list pages: each request a random filter/sort combination the API allows and a random page
-- of 20 among the first PERF_MAXPAGE (default 50). Every combination matches the whole seeded
-- project (status new, currency BTC, created between PERF_SINCE and PERF_UNTIL, RFC3339), so
-- when PERF_TOTAL is set each answer's total_records must equal it; a wrong total counts as an
-- error ("wrong=").
local ntid = 0 -- each thread's tid global is set from this in setup
local threads = {}
function setup(thread)
  thread:set("tid", ntid)
  ntid = ntid + 1
  table.insert(threads, thread)
end
function init(args)
  key = os.getenv("PERF_KEY") or ""
  maxpage = tonumber(os.getenv("PERF_MAXPAGE") or "50")
  total = os.getenv("PERF_TOTAL")
  local since, untl = os.getenv("PERF_SINCE"), os.getenv("PERF_UNTIL")
  combos = {
    "", "sort_order=asc", "status=new", "currency=BTC", "status=new&currency=BTC&sort_order=asc",
    "sort_by=updated_at", "sort_by=updated_at&status=new&sort_order=asc",
    "sort_by=fiat_amount&sort_order=asc", "sort_by=fiat_amount&currency=BTC",
    "sort_by=crypto_amount", "sort_by=crypto_amount&status=new&currency=BTC&sort_order=asc",
    "created_after=" .. since, "created_after=" .. since .. "&status=new&currency=BTC",
    "created_after=" .. since .. "&created_before=" .. untl .. "&sort_order=asc",
    "created_after=" .. since .. "&sort_by=crypto_amount", "created_before=" .. untl .. "&sort_by=updated_at&status=new",
  }
  only = tonumber(os.getenv("LIST_COMBO") or "") -- measure one combination (1-based) alone
  math.randomseed(os.time() + tid * 7919)
end
function request()
  local q = combos[only or math.random(#combos)]
  if q ~= "" then q = q .. "&" end
  return wrk.format("GET", "/api/v1/invoices?" .. q .. "page_size=20&page=" .. math.random(maxpage), {["Api-key"]=key})
end
ok, other, wrong = 0, 0, 0
function response(status, headers, body)
  if status ~= 200 then other = other + 1; return end
  ok = ok + 1
  if total and body:match('"total_records":(%d+)') ~= total then wrong = wrong + 1 end
end
function done(summary, latency, requests)
  local o, x, w = 0, 0, 0
  for _, t in ipairs(threads) do o = o + t:get("ok"); x = x + t:get("other"); w = w + t:get("wrong") end
  io.write(string.format("p50_ms=%.2f p99_ms=%.2f rps=%.0f errors=%d ok=%d non200=%d wrong=%d\n", latency:percentile(50)/1000, latency:percentile(99)/1000, summary.requests/(summary.duration/1e6), summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout + x + w, o, x, w))
end
