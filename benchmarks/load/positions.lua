-- wrk script: GPS position batches from many drivers (benchmarks/load_bench.py).
--
-- env LOAD_DRIVERS  file with one line per driver: "<bearer token> <lon> <lat>"
-- env LOAD_PORTS    the server ports (benchmarks/load/common.lua)
-- env LOAD_THREADS  the -t given to wrk (drivers are split between threads so that no
--                   driver is ever sent by two threads: recorded_at stays unique per driver)
-- env LOAD_BATCH    positions per request (default 10)
-- env LOAD_NOT_BEFORE  epoch milliseconds; every recorded_at is later than this (the start of
--                   this run: later than any point an earlier run sent, and than route_started)
--
-- Each request is one driver's batch: LOAD_BATCH points spread evenly between the driver's
-- previous batch and now (so never in the future and never the same instant twice), drifting
-- a few metres from the driver's position. Responses are counted by status, and "accepted"
-- is read from every 200 answer, so the benchmark can compare it with the rows stored.

local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")
local threads = common.threads
setup = common.setup
local function now_ms()
  return math.floor(common.now_ms())
end

local function iso(ms)
  return os.date("!%Y-%m-%dT%H:%M:%S", math.floor(ms / 1000)) .. string.format(".%03dZ", ms % 1000)
end

local drivers = {}
local next_driver = 1
local batch = 10
ok, non200, accepted, rejected, responses, built = 0, 0, 0, 0, 0, 0

function init(args)
  local nthreads = tonumber(os.getenv("LOAD_THREADS") or "1")
  batch = tonumber(os.getenv("LOAD_BATCH") or "10")
  local not_before = tonumber(os.getenv("LOAD_NOT_BEFORE") or "0")
  local i = 0
  for line in io.lines(os.getenv("LOAD_DRIVERS")) do
    local token, lon, lat = string.match(line, "^(%S+)%s+(%S+)%s+(%S+)")
    if token and i % nthreads == tid then
      drivers[#drivers + 1] = {
        auth = "Bearer " .. token,
        lon = tonumber(lon),
        lat = tonumber(lat),
        last = not_before,
      }
    end
    i = i + 1
  end
  math.randomseed(1000 + tid)
end

function request()
  built = built + 1
  local d = drivers[next_driver]
  next_driver = next_driver % #drivers + 1
  local now = now_ms()
  local span = now - d.last
  local parts = {}
  for k = 1, batch do
    local t
    if span >= batch then
      t = d.last + math.floor(span * k / batch)
    else
      t = d.last + k -- only if a driver came round within a few ms: at most batch ms ahead
    end
    d.lon = d.lon + (math.random() - 0.5) * 0.0002
    d.lat = d.lat + (math.random() - 0.5) * 0.00014
    parts[k] = string.format(
      '{"lon":%.6f,"lat":%.6f,"recorded_at":"%s","accuracy_m":8,"speed_ms":9.5}',
      d.lon, d.lat, iso(t))
    if k == batch then d.last = t end
  end
  local body = '{"positions":[' .. table.concat(parts, ",") .. "]}"
  return wrk.format("POST", "/api/v1/driver/positions", {
    ["Authorization"] = d.auth,
    ["Content-Type"] = "application/json",
  }, body)
end

function response(status, headers, body)
  responses = responses + 1
  if status == 200 then
    ok = ok + 1
    accepted = accepted + (tonumber(string.match(body, '"accepted":(%d+)')) or 0)
    local _, n = string.gsub(body, '"index":', "")
    rejected = rejected + n
  else
    non200 = non200 + 1
  end
end

function done(summary, latency, requests)
  local t = { ok = 0, non200 = 0, accepted = 0, rejected = 0, responses = 0, built = 0 }
  for _, thread in ipairs(threads) do
    for name, _ in pairs(t) do
      t[name] = t[name] + (thread:get(name) or 0)
    end
  end
  local e = summary.errors
  io.write(string.format(
    'JSON {"requests":%d,"duration_us":%d,"bytes":%d,"ok":%d,"non200":%d,"accepted":%d,'
      .. '"rejected":%d,"responses":%d,"built":%d,"errors":{"connect":%d,"read":%d,"write":%d,'
      .. '"status":%d,"timeout":%d},"latency_us":{"p50":%d,"p90":%d,"p95":%d,"p99":%d,'
      .. '"max":%d,"mean":%.1f}}\n',
    summary.requests, summary.duration, summary.bytes, t.ok, t.non200, t.accepted,
    t.rejected, t.responses, t.built, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency.max, latency.mean))
end
