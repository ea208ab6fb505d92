-- (b) benign 1 KB JSON POSTs (the body is order.json next to this file).
local dir = debug.getinfo(1, "S").source:sub(2):match("(.*/)")
package.path = package.path .. ";" .. dir .. "?.lua"
require "common"
local f = assert(io.open(dir .. "order.json", "rb"))
local body = f:read("*a")
f:close()
local headers = {}
for k, v in pairs(BROWSER) do headers[k] = v end
headers["Content-Type"] = "application/json"
function request()
  sent = sent + 1
  return wrk.format("POST", "/store/checkout", headers, body)
end
