-- POSTs the JSON body in BODY_FILE to the URL, optionally with
--   IAT=<initial access token>   Authorization: Bearer <it>
--   KEY_MODE=unique              a new Idempotency-Key on every request
--   KEY_MODE=same                one Idempotency-Key for every request (the first registers, the
--                                rest are replays)
local f = assert(io.open(os.getenv("BODY_FILE"), "r"))
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = f:read("*a")
f:close()
local iat = os.getenv("IAT")
if iat and iat ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. iat
end
local mode = os.getenv("KEY_MODE") or ""

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local counter = 0
local prefix = ""
function init(args)
  math.randomseed(os.time() * 1000 + (tid or 0))
  prefix = string.format("lt-%d-%08x%08x", tid or 0, math.random(0, 0x7fffffff), math.random(0, 0x7fffffff))
end

function request()
  if mode == "unique" then
    counter = counter + 1
    wrk.headers["Idempotency-Key"] = prefix .. "-" .. counter
  elseif mode == "same" then
    wrk.headers["Idempotency-Key"] = "loadtest-one-key-for-all-0001"
  end
  return wrk.format()
end
