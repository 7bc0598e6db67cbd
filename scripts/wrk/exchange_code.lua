-- POST /token grant_type=authorization_code, one fresh code per request, from CODES_FILE (one
-- code per line, for CLIENT_ID, issued with the RFC 7636 example PKCE pair and the redirect URI
-- below by scripts/token_flow.py). Each wrk thread takes every THREADS-th code. wrk computes
-- requests/s over the whole -d, so CODES must outlast it: loadtest-tokens.sh refuses a run that
-- used them all. A thread that runs out stops rather than send invalid codes.
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

local codes, next_code, n = {}, 1, 0
local prefix
local headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }

local verifying
function init(args)
  -- wrk calls thread 0's request() once right after init, to check the request, and never sends
  -- that one: it must not use up a code.
  verifying = (id == 0)
  local threads = tonumber(os.getenv("THREADS") or "2")
  local i = 0
  for line in io.lines(os.getenv("CODES_FILE")) do
    if line ~= "" then
      if i % threads == id then n = n + 1; codes[n] = line end
      i = i + 1
    end
  end
  prefix = "grant_type=authorization_code&client_id=" .. os.getenv("CLIENT_ID")
    .. "&code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    .. "&redirect_uri=http%3A%2F%2F127.0.0.1%3A53682%2Fcallback&code="
end

function request()
  if verifying then
    verifying = false
    return wrk.format("POST", "/token", headers, prefix .. codes[1])
  end
  if next_code > n then
    -- Out of codes: stop this thread. The request below is written but its answer is not
    -- awaited (the thread's loop ends first), so it is not counted.
    wrk.thread:stop()
    return wrk.format("POST", "/token", headers, prefix .. "ac_exhausted")
  end
  local code = codes[next_code]
  next_code = next_code + 1
  return wrk.format("POST", "/token", headers, prefix .. code)
end

local failures = 0
function response(status, _, body)
  if status ~= 200 then
    failures = failures + 1
    if failures <= 3 then io.stderr:write("exchange_code: ", status, " ", body, "\n") end
  end
end
