-- Booking POSTs: args are tokens_file event_id ticket_type_id path sample_limit run_key
-- [pace_interval_ms]. Each request: the next user's bearer token, 1-4 tickets and an
-- Idempotency-Key unique to this run, thread and request.
local tokens = {}
local event_id, ticket_type_id, path
local counter = 0
local key_prefix

function init(args)
  for line in io.lines(args[1]) do
    if line ~= "" then
      tokens[#tokens + 1] = line
    end
  end
  event_id, ticket_type_id, path = args[2], args[3], args[4]
  sample_limit = tonumber(args[5]) or 0
  key_prefix = string.format("%s%04x", args[6], thread_index)
  pace_interval_ms = tonumber(args[7]) or 0
  math.randomseed(7 + thread_index)
end

function request()
  counter = counter + 1
  local token = tokens[(counter * 7 + thread_index) % #tokens + 1]
  local body = string.format(
    '{"event_id": "%s", "ticket_type_id": "%s", "quantity": %d, '
      .. '"customer_name": "Sam Fan", "customer_email": "fan%d-%d@example.com", '
      .. '"payment_token": "tok_visa"}',
    event_id, ticket_type_id, math.random(1, 4), thread_index, counter)
  return wrk.format("POST", path, {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
    ["Idempotency-Key"] = string.format("%s%012x", key_prefix, counter),
  }, body)
end
