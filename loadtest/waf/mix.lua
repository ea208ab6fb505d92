-- (c) benign GETs with every 10th request an attack (4 kinds in turn).
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "?.lua"
require "common"
local i = 0
function request()
  i = i + 1; sent = sent + 1
  if i % 10 == 0 then
    attacks = attacks + 1
    return wrk.format("GET", ATTACKS[((i / 10) % #ATTACKS) + 1], BROWSER)
  end
  return wrk.format("GET", BENIGN_GETS[(i % #BENIGN_GETS) + 1], BROWSER)
end
