-- Only the mix's attacks, in turn (not run by loadtest/waf.sh): what a blocked request costs,
-- e.g. `wrk -t2 -c64 -d5s -s loadtest/waf/attack.lua http://127.0.0.1:18080`.
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "?.lua"
require "common"
local i = 0
function request()
  i = i + 1; sent = sent + 1; attacks = attacks + 1
  return wrk.format("GET", ATTACKS[(i % #ATTACKS) + 1], BROWSER)
end
