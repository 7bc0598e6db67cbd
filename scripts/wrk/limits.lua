-- Requests for scripts/loadtest-limits.sh, shaped by the environment:
--   METHOD     GET or POST (default POST)
--   BODY_FILE  a JSON body to send (POST)
--   TOKEN      a bearer token to send
--   XFF        an X-Forwarded-For address for every request, or "rotate": a different address per
--              request (many clients behind one trusted proxy); unset: no header
local method = os.getenv("METHOD") or "POST"
local token = os.getenv("TOKEN")
local xff = os.getenv("XFF")
local body = nil
local path = os.getenv("BODY_FILE")
if path then
  local f = assert(io.open(path, "r"))
  body = f:read("*a")
  f:close()
end
local counter = 0
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
local offset = math.random(0, 1000000)

request = function()
  local headers = {}
  if body then headers["Content-Type"] = "application/json" end
  if token then headers["Authorization"] = "Bearer " .. token end
  if xff == "rotate" then
    counter = counter + 1
    local n = counter + offset
    headers["X-Forwarded-For"] = string.format("10.%d.%d.%d", math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
  elseif xff then
    headers["X-Forwarded-For"] = xff
  end
  return wrk.format(method, nil, headers, body)
end
