-- Alertmanager webhooks (one firing alert each), cycling through 1,000 distinct dedup keys; counts answers by status.
local counter = 0
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  routing_key = args[1]
  statuses = {}
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local key = "bench-" .. ((counter * 7 + id * 501) % 1000)
  local body = '{"version":"4","status":"firing","receiver":"tocsin","alerts":[{"status":"firing",' ..
    '"labels":{"alertname":"Latency","instance":"' .. key .. '","severity":"warning"},' ..
    '"annotations":{"summary":"Latency above SLO"},"fingerprint":"' .. key .. '"}]}'
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local totals = {}
  for _, thread in ipairs(threads) do
    local s = thread:get("statuses")
    for code, n in pairs(s) do totals[code] = (totals[code] or 0) + n end
  end
  for code, n in pairs(totals) do io.write(string.format("STATUS %d %d\n", code, n)) end
  io.write(string.format("P50_US %d\nP99_US %d\n", latency:percentile(50), latency:percentile(99)))
end
