-- Shared by the WAF load-test scripts: per-thread status counters collected in done(), and
-- the PCX_RESULT line loadtest/waf.sh parses. `attacks` counts requests sent as attacks, so
-- the runner can check that exactly the attacks were answered 403.
local threads = {}
function setup(thread) table.insert(threads, thread) end

forbidden, other, attacks, sent = 0, 0, 0, 0
function response(status, headers, body)
  if status == 403 then forbidden = forbidden + 1
  elseif status ~= 200 then other = other + 1 end
end

function done(summary, latency, requests)
  local f, o, a, s = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    f = f + t:get("forbidden"); o = o + t:get("other")
    a = a + t:get("attacks"); s = s + t:get("sent")
  end
  io.write(string.format(
    "PCX_RESULT rps=%.0f requests=%d p50_us=%d p99_us=%d errors=%d forbidden=%d other=%d attacks=%d sent=%d\n",
    summary.requests / (summary.duration / 1e6), summary.requests, latency:percentile(50), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    f, o, a, s))
end

BROWSER = {
  ["Host"] = "myapp.com",
  ["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
  ["Accept"] = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
  ["Accept-Language"] = "en-US,en;q=0.9,de;q=0.8",
  ["Accept-Encoding"] = "gzip, deflate, br",
  ["Referer"] = "https://myapp.com/blog/",
  ["Cookie"] = "session=8f14e45fceea167a5a36dedd4bea2543; theme=dark; consent=1",
}

BENIGN_GETS = {
  "/blog/post/1?ref=home&utm_source=newsletter&utm_medium=email",
  "/store/search?q=blue+running+shoes&size=42&sort=price_asc&page=2",
  "/blog/archive?year=2025&month=11&tag=rust&lang=en-US",
  "/store/item/42?color=navy&variant=wide&qty=1",
}

ATTACKS = {
  "/store/search?q=1%27%20UNION%20SELECT%20username,password%20FROM%20users--",
  "/blog/post/1?ref=%3Cscript%3Ealert(document.cookie)%3C/script%3E",
  "/store/item/42?file=../../../../etc/passwd",
  "/blog/archive?cmd=;cat%20/etc/passwd",
}
