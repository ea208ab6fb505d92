-- (a) benign GETs with query arguments and browser headers.
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "?.lua"
require "common"
local i = 0
function request()
  i = i + 1; sent = sent + 1
  return wrk.format("GET", BENIGN_GETS[(i % #BENIGN_GETS) + 1], BROWSER)
end
