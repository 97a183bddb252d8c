-- wrk script: GET /v1/me, each request with the next key of KEYS_FILE.
-- Optional pacing: DELAY_MS per request per connection (half-load runs).
local keys = {}
local i = 0
local delay_ms = tonumber(os.getenv("DELAY_MS") or "0")

init = function(args)
  for line in io.lines(os.getenv("KEYS_FILE")) do
    keys[#keys + 1] = "Bearer " .. line
  end
  i = math.random(#keys)
end

request = function()
  i = i % #keys + 1
  return wrk.format("GET", "/v1/me", { ["Authorization"] = keys[i] })
end

if delay_ms > 0 then
  delay = function()
    return delay_ms
  end
end

done = function(summary, latency, requests)
  io.write(string.format("non2xx_or_errors: %d\n",
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
