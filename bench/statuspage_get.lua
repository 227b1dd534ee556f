-- GETs one URL; optional headers from the arguments ("accept-encoding=gzip", "if-none-match=...").
-- Counts answers by status and reports p50/p99 like the ingest scripts.
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
  for _, arg in ipairs(args) do
    local name, value = arg:match("^([^=]+)=(.*)$")
    if name then wrk.headers[name] = value end
  end
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
