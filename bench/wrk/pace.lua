-- A fixed offered rate: each thread hands out send slots every pace_interval_ms
-- (set in init from the last argument) to whichever of its connections asks next;
-- a slot already past is sent at once, so a slow answer does not lower the rate
-- while the thread has idle connections.
local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec *tp);
]])
local clock = ffi.new("bench_timespec")
local next_slot = nil
pace_interval_ms = 0

local function now_ms()
  ffi.C.clock_gettime(1, clock)
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end

function delay()
  local now = now_ms()
  if next_slot == nil then
    next_slot = now
  end
  local slot = next_slot
  next_slot = next_slot + pace_interval_ms
  if slot <= now then
    return 0
  end
  return math.floor(slot - now)
end
