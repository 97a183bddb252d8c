-- wrk: POST {"name":"bench"} to the URL with the key in $KEY.
wrk.method = "POST"
wrk.body = '{"name":"bench"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("KEY")

local non2xx = 0
function response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end

function done(summary, latency, requests)
  -- Per-thread counters are not shared; errors from wrk itself still count.
  local e = summary.errors
  io.write(string.format("socket_errors: %d\n", e.connect + e.read + e.write + e.timeout))
end
