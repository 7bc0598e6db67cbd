-- POST /token grant_type=refresh_token, following rotation: every response's new refresh_token is
-- the next one sent, so CONNECTIONS chains (families) advance side by side and no token is ever
-- sent twice. TOKENS_FILE holds one seeded refresh token per connection (from real code
-- exchanges). CLIENT_ID is the client; with CLIENT_SECRET the request authenticates with
-- client_secret_post.
--
-- wrk's Lua API does not say which connection a request() or response() belongs to, so each wrk
-- thread keeps its share of the chains in a queue: a connection takes the chain at the head when
-- it sends, and a response puts the chain (now at its new token) back at the tail. A thread's
-- in-flight requests plus its queue are always its CONNECTIONS / THREADS chains; a chain is never
-- in two requests at once. Any non-200 answer ends that chain and shows as wrk's "Non-2xx".
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

local queue, head, tail = {}, 1, 0
local function esc(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end
local prefix

local verifying
function init(args)
  -- wrk calls thread 0's request() once right after init, to check the request, and never sends
  -- that one: it must not take a chain off the queue.
  verifying = (id == 0)
  local threads = tonumber(os.getenv("THREADS") or "2")
  local i = 0
  for line in io.lines(os.getenv("TOKENS_FILE")) do
    if line ~= "" then
      if i % threads == id then tail = tail + 1; queue[tail] = line end
      i = i + 1
    end
  end
  prefix = "grant_type=refresh_token&client_id=" .. esc(os.getenv("CLIENT_ID"))
  local secret = os.getenv("CLIENT_SECRET")
  if secret and secret ~= "" then prefix = prefix .. "&client_secret=" .. esc(secret) end
  prefix = prefix .. "&refresh_token="
end

local headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
function request()
  local token = "rt_exhausted" -- only when a chain broke: answered invalid_grant, counted non-2xx
  if verifying then
    verifying = false
    return wrk.format("POST", "/token", headers, prefix .. queue[head])
  end
  if head <= tail then token = queue[head]; queue[head] = nil; head = head + 1 end
  return wrk.format("POST", "/token", headers, prefix .. token)
end

local failures = 0
function response(status, _, body)
  if status == 200 then
    tail = tail + 1
    queue[tail] = body:match('"refresh_token":"([^"]+)"')
  else
    failures = failures + 1
    if failures <= 3 then io.stderr:write("refresh_chain: ", status, " ", body, "\n") end
  end
end
