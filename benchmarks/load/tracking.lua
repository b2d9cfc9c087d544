-- wrk script: customers opening their tracking page GET /t/<token> at a fixed total rate.
--
-- env LOAD_LINKS    file with one line per tracking link: "<token> <client address>"
-- env LOAD_PORTS    the server ports (benchmarks/load/common.lua)
-- env LOAD_THREADS  the -t given to wrk
-- env LOAD_RATE     requests per second, all threads together (default 200)
--
-- wrk itself is closed-loop (a connection sends its next request when the answer is in).
-- The fixed rate comes from delay(): every thread keeps a schedule of send slots, one every
-- LOAD_THREADS / LOAD_RATE seconds, and a connection that is free claims the next slot and
-- waits for it. With enough connections (-c) a slot is always taken on time; when none is
-- free the request goes out late, and that lateness is counted ("late_ms_*"), so a server
-- that cannot keep up shows as lateness instead of as a silently lower rate.
-- Each link is sent with its own X-Forwarded-For (one customer each; uvicorn trusts it from
-- 127.0.0.1), so the per-client rate limit of the tracking pages sees many customers, as in
-- production, instead of one address making 12,000 requests a minute.

local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")
local threads = common.threads
setup = common.setup
local now_ms = common.now_ms

local links = {}
local next_link = 1
local interval = 10
local slot = nil
s2xx, s4xx, s5xx, sother, late_5, late_50, late_max, sent = 0, 0, 0, 0, 0, 0, 0, 0

function init(args)
  local nthreads = tonumber(os.getenv("LOAD_THREADS") or "1")
  local rate = tonumber(os.getenv("LOAD_RATE") or "200")
  interval = 1000 * nthreads / rate
  local i = 0
  for line in io.lines(os.getenv("LOAD_LINKS")) do
    local token, ip = string.match(line, "^(%S+)%s+(%S+)")
    if token and i % nthreads == tid then
      links[#links + 1] = { path = "/t/" .. token, ip = ip }
    end
    i = i + 1
  end
  -- threads start their schedules half an interval apart, so their requests interleave
  slot = now_ms() + interval * tid / nthreads
end

function delay()
  local now = now_ms()
  local wait = slot - now
  slot = slot + interval
  sent = sent + 1
  if wait >= 0 then
    return math.floor(wait)
  end
  local late = -wait
  if late > 5 then late_5 = late_5 + 1 end
  if late > 50 then late_50 = late_50 + 1 end
  if late > late_max then late_max = late end
  return 0
end

function request()
  local l = links[next_link]
  next_link = next_link % #links + 1
  return wrk.format("GET", l.path, { ["X-Forwarded-For"] = l.ip, ["Accept-Language"] = "de" })
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    s2xx = s2xx + 1
  elseif status >= 400 and status < 500 then
    s4xx = s4xx + 1
  elseif status >= 500 then
    s5xx = s5xx + 1
  else
    sother = sother + 1
  end
end

function done(summary, latency, requests)
  local t = { s2xx = 0, s4xx = 0, s5xx = 0, sother = 0, late_5 = 0, late_50 = 0, sent = 0 }
  local late_max_all = 0
  for _, thread in ipairs(threads) do
    for name, _ in pairs(t) do
      t[name] = t[name] + (thread:get(name) or 0)
    end
    late_max_all = math.max(late_max_all, thread:get("late_max") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'JSON {"requests":%d,"duration_us":%d,"bytes":%d,"s2xx":%d,"s4xx":%d,"s5xx":%d,'
      .. '"sother":%d,"slots":%d,"late_5ms":%d,"late_50ms":%d,"late_max_ms":%.1f,'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
      .. '"latency_us":{"p50":%d,"p90":%d,"p95":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
    summary.requests, summary.duration, summary.bytes, t.s2xx, t.s4xx, t.s5xx, t.sother,
    t.sent, t.late_5, t.late_50, late_max_all, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency.max, latency.mean))
end
