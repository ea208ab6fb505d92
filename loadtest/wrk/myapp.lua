-- wrk script: alternate GET /blog and /store on Host myapp.com (the seed example's routes).
-- Used by loadtest/run.sh for every contender so all see the same requests.
local paths = { "/blog/post/1?ref=home", "/store/item/42?color=blue" }
local i = 0

request = function()
  i = i + 1
  local p = paths[(i % #paths) + 1]
  return wrk.format("GET", p, { ["Host"] = "myapp.com", ["User-Agent"] = "wrk loadtest" })
end

-- Count non-2xx answers so a broken proxy cannot look fast.
local bad = 0
response = function(status, headers, body)
  if status ~= 200 then bad = bad + 1 end
end

done = function(summary, latency, requests)
  io.write(string.format("PCX_RESULT rps=%.0f requests=%d p50_us=%d p99_us=%d errors=%d non2xx=%d\n",
    summary.requests / (summary.duration / 1e6), summary.requests,
    latency:percentile(50), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
