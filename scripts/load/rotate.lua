-- wrk script: GET <the URL's path>, each request with the next key of
-- KEYS_FILE in `Authorization: Bearer ...`.
--
-- Every request is formatted once, in init: wrk.format per request costs
-- the client more than keyward's whole authenticated path, so formatting on
-- the fly measured wrk's Lua, not the server. load.sh sends the very same
-- requests (same headers, same bytes) to /healthz, which ignores the header,
-- so both sides of the ratio cost the client the same.
--
-- Optional pacing: DELAY_MS before each request of a connection (half-load
-- runs). wrk waits whole milliseconds, so a fractional DELAY_MS is met on
-- average: each wait is the integer just below or just above it, at random
-- in the right proportion.
local reqs = {}
local i = 0
local delay_ms = tonumber(os.getenv("DELAY_MS") or "0")

init = function(args)
  for line in io.lines(os.getenv("KEYS_FILE")) do
    reqs[#reqs + 1] = wrk.format("GET", wrk.path, { ["Authorization"] = "Bearer " .. line })
  end
  i = math.random(#reqs)
end

request = function()
  i = i % #reqs + 1
  return reqs[i]
end

if delay_ms > 0 then
  local whole = math.floor(delay_ms)
  local frac = delay_ms - whole
  delay = function()
    if math.random() < frac then
      return whole + 1
    end
    return whole
  end
end

done = function(summary, latency, requests)
  io.write(string.format("non2xx_or_errors: %d\n",
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
