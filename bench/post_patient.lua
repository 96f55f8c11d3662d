-- wrk script for bench/postgres.sh: POSTs a new Patient per request (a write of one resource with
-- its index and audit rows); bearer token from a file.
--   wrk ... -s bench/post_patient.lua URL/fhir/Patient -- TOKEN_FILE
-- At the end prints: "result rps=... p50_ms=... p95_ms=... p99_ms=... requests=... errors=... non2xx=..."
local headers = {}
function init(args)
  local f = assert(io.open(args[1]))
  headers["Authorization"] = "Bearer " .. f:read("*l")
  f:close()
  headers["Content-Type"] = "application/fhir+json"
end
local n = 0
function request()
  n = n + 1
  local body = string.format(
    '{"resourceType":"Patient","name":[{"family":"Nguyễn","given":["Văn","Bench%d"]}],' ..
    '"gender":"male","birthDate":"1980-01-%02d","identifier":[{"system":"https://benhan.vn/sid/cccd","value":"0%011d"}]}',
    n, n % 28 + 1, n)
  return wrk.format("POST", nil, headers, body)
end
function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    "result rps=%.0f p50_ms=%.3f p95_ms=%.3f p99_ms=%.3f requests=%d errors=%d non2xx=%d\n",
    summary.requests / secs, latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, summary.requests, e.connect + e.read + e.write + e.timeout,
    e.status))
end
