-- wrk at a fixed request rate: `wrk -t T -c C ... -s bench/wrk_paced.lua URL -- RATE T` (RATE per thread).
--
-- wrk is closed loop: a connection sends its next request after the previous answer and
-- delay(). Here delay() hands each connection the next free slot of its thread's timeline
-- (one slot every 1000 / RATE ms, threads staggered), so the offered rate is fixed whatever
-- the latency, and each request leaves at its slot's time: a server stall shorter than
-- C / T slots holds no request back. wrk times a request from its write, so a request
-- written after its slot (every connection busy, or wrk itself descheduled) would hide
-- that much of the wait: request() measures how late each write is against its slot (the
-- timers fire in slot order) and done() prints the lag's p99 and maximum with wrk's
-- latency percentiles, as one line of JSON.

local ffi = require("ffi")
ffi.cdef [[
  struct paced_timespec { long tv_sec; long tv_nsec; };
  int clock_gettime(int clock, struct paced_timespec *now);
]]
local CLOCK_MONOTONIC, clock = 1, ffi.new("struct paced_timespec")

local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, clock)
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  interval = 1000 / tonumber(args[1])  -- ms between two slots of this thread
  stagger = interval * id / tonumber(args[2])  -- the threads' slots interleave
  raw = wrk.format()  -- method, path and -H headers from the command line
  slots, first, last = {}, 1, 0  -- claimed slots not yet written, oldest first
  lags = {}  -- ms each write came after its slot
end

function delay()
  local now = now_ms()
  latest = latest and latest + interval or now + 20 + stagger  -- 20 ms for every connection to open
  last = last + 1
  slots[last] = latest
  local wait = latest - now
  return wait > 0 and math.floor(wait + 0.5) or 0
end

function request()
  local due = slots[first]
  if due then  -- a write always follows a delay(); nil only if wrk changed that
    slots[first], first = nil, first + 1
    lags[#lags + 1] = now_ms() - due
  end
  return raw
end

function done(summary, latency, requests)
  local all = {}
  for _, thread in ipairs(threads) do
    for _, lag in ipairs(thread:get("lags")) do all[#all + 1] = lag end
  end
  table.sort(all)
  local lag_p99 = #all > 0 and all[math.max(1, math.ceil(#all * 0.99))] or 0
  local e = summary.errors
  io.write(string.format(
    'PACED {"requests": %d, "duration_us": %d, "p50": %d, "p99": %d, "p999": %d, "max": %d, ' ..
    '"lag_p99_ms": %.3f, "lag_max_ms": %.3f, "errors": {"connect": %d, "read": %d, "write": %d, "status": %d, ' ..
    '"timeout": %d}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency:percentile(99.9),
    latency.max, lag_p99, all[#all] or 0, e.connect, e.read, e.write, e.status, e.timeout))
end
