-- GCRA check (or peek) of every window of one bucket, atomically; see `domain::gcra`.
-- KEYS[i]: the TAT (µs since the Unix epoch) of window i; all KEYS share one hash tag.
-- ARGV[1]: 'check' (consume when every window allows) or 'peek' (write nothing).
-- ARGV[2]: now in µs, or '' for the server clock (tests pin it to compare with Rust).
-- ARGV[2i+1], ARGV[2i+2]: limit and period (µs) of window i.
-- Reply: {allowed (1|0), retry_after µs (0 when allowed), then per window remaining, reset µs}.
-- Lua numbers are doubles: exact for integers below 2^53 µs (about 285 years).
local now
if ARGV[2] ~= '' then
  now = tonumber(ARGV[2])
else
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000000 + tonumber(time[2])
end

local n = #KEYS
local emission, span, period, tat = {}, {}, {}, {}
local allowed = 1
for i = 1, n do
  local limit = math.max(tonumber(ARGV[2 * i + 1]), 1)
  period[i] = tonumber(ARGV[2 * i + 2])
  emission[i] = math.max(math.floor(period[i] / limit), 1)
  span[i] = emission[i] * limit
  tat[i] = math.max(tonumber(redis.call('GET', KEYS[i]) or '0') or 0, now)
  if tat[i] - now > span[i] - emission[i] then allowed = 0 end
end

local consume = allowed == 1 and ARGV[1] == 'check'
local retry = 0
local reply = {allowed, 0}
for i = 1, n do
  local debt = tat[i] - now
  if consume then
    debt = debt + emission[i]
    -- The key outlives its debt (at most one period), then vanishes with nothing to remember.
    local ttl = math.max(math.ceil(math.max(period[i], span[i]) / 1000), 1)
    redis.call('SET', KEYS[i], string.format('%.0f', tat[i] + emission[i]),
      'PX', string.format('%.0f', ttl))
  elseif allowed == 0 and debt > span[i] - emission[i] then
    retry = math.max(retry, debt + emission[i] - span[i])
  end
  reply[2 * i + 1] = math.floor(math.max(span[i] - debt, 0) / emission[i])
  reply[2 * i + 2] = debt
end
reply[2] = retry
return reply
