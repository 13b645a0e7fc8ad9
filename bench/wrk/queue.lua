-- Fans in a queued on-sale. Args: tokens_file mode threads event_id ticket_type_id
-- api_prefix run_key. Run with one connection per thread (-t = -c), so each response
-- answers the thread's last request and a fan's state can follow it.
--   mode "queue": each thread's fans (every threads-th line of tokens_file) join the
--   event's waiting room one after another, then poll their places in turn; a fan whose
--   poll shows a pass books once with it (1-4 tickets), again only after a 503.
--   mode "minimal": GET <api_prefix>/<n> with the fans' tokens in turn (the baseline).
-- done() prints one WRK_JSON line: statuses per kind of request, polls and bookings per
-- second of the clock, and the bookings answered 202 with their fans. (Per-thread tables
-- are flat: wrk's thread:get copies nested tables wrongly and crashes.)
local threads = {}

function setup(thread)
  thread:set("thread_index", #threads + 1)
  table.insert(threads, thread)
end

local fans = {}
local places = {}
local booked = {}
local mode, event_id, ticket_type_id, prefix, key_prefix
local joined, turn, last, last_fan = 0, 0, nil, nil
-- "<kind> <status>" and "<kind> <epoch second>" (kind: join, poll, book) -> count
counts = {}
accepted = {}

function init(args)
  mode = args[2]
  local total_threads = tonumber(args[3])
  event_id, ticket_type_id, prefix = args[4], args[5], args[6]
  key_prefix = string.format("%s%04x", args[7], thread_index)
  local n = 0
  for line in io.lines(args[1]) do
    if line ~= "" then
      n = n + 1
      if (n - 1) % total_threads == thread_index - 1 then
        fans[#fans + 1] = { index = n, token = line }
      end
    end
  end
  math.randomseed(11 + thread_index)
end

local function count(key)
  counts[key] = (counts[key] or 0) + 1
end

local function bearer(fan)
  return "Bearer " .. fan.token
end

function request()
  if mode == "minimal" then
    turn = turn % #fans + 1
    last, last_fan = "poll", fans[turn]
    return wrk.format("GET", string.format("%s/%d", prefix, last_fan.index), {
      ["Authorization"] = bearer(last_fan),
    })
  end
  if joined < #fans then
    last, last_fan = "join", fans[joined + 1]
    return wrk.format(
      "POST",
      string.format("%s/events/%s/waiting-room/places", prefix, event_id),
      { ["Authorization"] = bearer(last_fan) }
    )
  end
  turn = turn % #fans + 1
  local fan = fans[turn]
  last_fan = fan
  if fan.pass ~= nil and not booked[fan.index] then
    last = "book"
    local body = string.format(
      '{"event_id": "%s", "ticket_type_id": "%s", "quantity": %d, '
        .. '"customer_name": "Sam Fan", "customer_email": "fan%d@example.com", '
        .. '"payment_token": "tok_visa"}',
      event_id, ticket_type_id, math.random(1, 4), fan.index)
    return wrk.format("POST", prefix .. "/bookings", {
      ["Content-Type"] = "application/json",
      ["Authorization"] = bearer(fan),
      ["X-Admission-Pass"] = fan.pass,
      -- A retry after a 503 is the same booking (and the same attempt of the pass).
      ["Idempotency-Key"] = string.format("%s%08x", key_prefix, fan.index),
    }, body)
  end
  last = "poll"
  local place = places[fan.index]
  if place == nil then
    -- A fan whose join failed joins again.
    last = "join"
    return wrk.format(
      "POST",
      string.format("%s/events/%s/waiting-room/places", prefix, event_id),
      { ["Authorization"] = bearer(fan) }
    )
  end
  return wrk.format("GET", prefix .. "/waiting-room/places/" .. place, {
    ["Authorization"] = bearer(fan),
  })
end

function response(status, headers, body)
  count(last .. " " .. status)
  count(last .. " t" .. os.time())
  local fan = last_fan
  if last == "join" then
    if fan == fans[joined + 1] then
      joined = joined + 1
    end
    if status == 200 or status == 201 then
      places[fan.index] = string.match(body, '"place_token"%s*:%s*"([^"]+)"')
    end
  elseif last == "poll" and status == 200 and mode ~= "minimal" then
    fan.pass = string.match(body, '"pass"%s*:%s*"([^"]+)"')
  elseif last == "book" then
    if status == 202 then
      booked[fan.index] = true
      local id = string.match(body, '"id"%s*:%s*"([%x%-]+)"')
      if id then
        accepted[#accepted + 1] = string.format("%d %s", fan.index, id)
      end
    elseif status ~= 503 then
      booked[fan.index] = true
    end
    fan.pass = nil
  end
end

function done(summary, latency, requests)
  local totals = { join = {}, poll = {}, book = {} }
  local seconds = {}
  local ids = {}
  for _, thread in ipairs(threads) do
    for key, n in pairs(thread:get("counts") or {}) do
      local kind, what = string.match(key, "^(%a+) (.+)$")
      local second = string.match(what, "^t(%d+)$")
      if second then
        local row = seconds[second] or { join = 0, poll = 0, book = 0 }
        row[kind] = row[kind] + n
        seconds[second] = row
      else
        totals[kind][what] = (totals[kind][what] or 0) + n
      end
    end
    for _, line in ipairs(thread:get("accepted") or {}) do
      ids[#ids + 1] = '"' .. line .. '"'
    end
  end
  local function object(by_status)
    local parts = {}
    for status, n in pairs(by_status) do
      parts[#parts + 1] = string.format('"%s": %d', status, n)
    end
    return "{" .. table.concat(parts, ", ") .. "}"
  end
  local all = {}
  for _, by_status in pairs(totals) do
    for status, n in pairs(by_status) do
      all[status] = (all[status] or 0) + n
    end
  end
  local rows = {}
  for second, row in pairs(seconds) do
    rows[#rows + 1] = string.format('"%s": [%d, %d, %d]', second, row.poll, row.book, row.join)
  end
  local errors = summary.errors
  io.write(string.format(
    'WRK_JSON {"duration_us": %d, "requests": %d, "bytes": %d, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, '
      .. '"latency_us": {"mean": %.1f, "p50": %d, "p90": %d, "p99": %d, "p999": %d, "max": %d}, '
      .. '"statuses": %s, "sample": [%s], "kinds": {"join": %s, "poll": %s, "book": %s}, '
      .. '"per_second": {%s}}\n',
    summary.duration, summary.requests, summary.bytes,
    errors.connect, errors.read, errors.write, errors.status, errors.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max,
    object(all), table.concat(ids, ", "),
    object(totals.join), object(totals.poll), object(totals.book),
    table.concat(rows, ", ")))
end
