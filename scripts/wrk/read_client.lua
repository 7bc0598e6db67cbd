-- GET /register/{id} with that client's token, for a random client among CLIENTS seeded by
-- scripts/seed_clients.py (ids seed00000000…, tokens rat_seed0…).
local clients = tonumber(os.getenv("CLIENTS") or "10000")
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))

request = function()
  local i = math.random(0, clients - 1)
  local path = string.format("/register/seed%08d", i)
  return wrk.format("GET", path, { ["Authorization"] = "Bearer rat_seed" .. i })
end
