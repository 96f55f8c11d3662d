-- wrk script for bench/read.sh and bench/search_latency.sh: GETs the paths listed in a file, cycling;
-- each thread starts at a different offset; optional bearer token. Reports p50, p95, p99 and max.
--   wrk ... -s bench/latency.lua URL -- PATHS_FILE [TOKEN_FILE]
-- At the end prints one line:
--   "result rps=... p50_ms=... p95_ms=... p99_ms=... max_ms=... requests=... errors=... non2xx=..."

local counter = 1

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end

local paths = {}
local idx = 0
local headers = {}

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then paths[#paths + 1] = line end
  end
  if #paths == 0 then error("no paths in " .. args[1]) end
  if args[2] and #args[2] > 0 then
    local f = assert(io.open(args[2]))
    headers["Authorization"] = "Bearer " .. f:read("*l")
    f:close()
  end
  headers["Accept"] = "application/fhir+json"
  idx = ((tid or 1) - 1) * math.floor(#paths / 2)
end

function request()
  idx = idx % #paths + 1
  return wrk.format("GET", paths[idx], headers)
end

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    "result rps=%.0f p50_ms=%.3f p95_ms=%.3f p99_ms=%.3f max_ms=%.3f requests=%d errors=%d non2xx=%d\n",
    summary.requests / secs, latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, summary.requests,
    e.connect + e.read + e.write + e.timeout, e.status))
end
