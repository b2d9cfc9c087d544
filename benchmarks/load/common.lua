-- What both wrk scripts of benchmarks/load_bench.py share: a millisecond clock and the
-- spreading of wrk threads over the server processes. Loaded with dofile() from the
-- script's own folder.
--
-- env LOAD_PORTS    comma-separated ports of the server processes; wrk threads are spread
--                   over them round-robin (thread.addr), one port per thread

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_usec; } lb_timeval;
  int gettimeofday(lb_timeval *tv, void *tz);
]]
local tv = ffi.new("lb_timeval")

local common = { threads = {} }
local counter = 0

-- Wall-clock milliseconds (with a fraction).
function common.now_ms()
  ffi.C.gettimeofday(tv, nil)
  return tonumber(tv.tv_sec) * 1000 + tonumber(tv.tv_usec) / 1000
end

-- wrk's setup(thread): the next port round-robin, the thread's number as global "tid", and
-- the thread remembered in common.threads (for done()).
function common.setup(thread)
  local ports = {}
  for p in string.gmatch(os.getenv("LOAD_PORTS") or "8000", "%d+") do
    ports[#ports + 1] = p
  end
  thread.addr = wrk.lookup("127.0.0.1", ports[(counter % #ports) + 1])[1]
  thread:set("tid", counter)
  counter = counter + 1
  common.threads[#common.threads + 1] = thread
end

return common
