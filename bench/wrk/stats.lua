-- Status counts and a sample of 202 booking ids per thread, summed in done() and
-- printed as one JSON line that bench/wrk_driver.py reads.
local threads = {}
statuses = {}
sample = {}
sample_limit = 0

function setup(thread)
  thread:set("thread_index", #threads + 1)
  table.insert(threads, thread)
end

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  if status == 202 and #sample < sample_limit and body then
    local id = string.match(body, '"id"%s*:%s*"([%x%-]+)"')
    if id then
      sample[#sample + 1] = id
    end
  end
end

function done(summary, latency, requests)
  local counts, ids = {}, {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses") or {}) do
      counts[status] = (counts[status] or 0) + count
    end
    for _, id in ipairs(thread:get("sample") or {}) do
      ids[#ids + 1] = '"' .. id .. '"'
    end
  end
  local parts = {}
  for status, count in pairs(counts) do
    parts[#parts + 1] = string.format('"%s": %d', status, count)
  end
  local errors = summary.errors
  io.write(string.format(
    'WRK_JSON {"duration_us": %d, "requests": %d, "bytes": %d, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, '
      .. '"latency_us": {"mean": %.1f, "p50": %d, "p90": %d, "p99": %d, "p999": %d, "max": %d}, '
      .. '"statuses": {%s}, "sample": [%s]}\n',
    summary.duration, summary.requests, summary.bytes,
    errors.connect, errors.read, errors.write, errors.status, errors.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max,
    table.concat(parts, ", "), table.concat(ids, ", ")))
end
