-- wrk script: every thread walks one URL list from its own offset, wrapping around, so that
-- all servers under test get the same requests in the same order.
-- usage: wrk ... -s bench/walk.lua URL -- LISTFILE
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end

function init(args)
  urls = {}
  for line in io.lines(args[1]) do urls[#urls + 1] = line end
  idx = ((tid or 0) * 7919) % #urls
end

function request()
  idx = idx % #urls + 1
  return wrk.format("GET", urls[idx])
end

-- ok_rps counts only 2xx/3xx answers: a server that sheds load with fast 503s must not
-- look faster for it (latency percentiles still include those answers).
function done(summary, latency, requests)
  local e = summary.errors
  local bad = e.connect + e.read + e.write + e.timeout
  io.write(string.format("LAT p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f errors=%d non2xx=%d ok_rps=%.2f\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    bad, e.status, (summary.requests - e.status - e.timeout) / (summary.duration / 1e6)))
end
