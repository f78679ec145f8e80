-- Sliding-log check (or peek) of every window of one bucket, atomically; see `domain::sliding_log`.
-- KEYS[i]: a LIST of the times (µs since the Unix epoch) window i admitted, newest first; all
--   KEYS share one hash tag.
-- ARGV[1]: 'check' (record the request when every window allows it) or 'peek' (write nothing).
-- ARGV[2]: now in µs, or '' for the server clock (tests pin it to compare with Rust).
-- ARGV[2i+1], ARGV[2i+2]: limit and period (µs) of window i.
-- Reply: {allowed (1|0), then per window: remaining, reset µs, retry µs (0 when it allows)}.
-- Lua numbers are doubles: exact for integers below 2^53 µs (about 285 years).
local now
if ARGV[2] ~= '' then
  now = tonumber(ARGV[2])
else
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000000 + tonumber(time[2])
end

local n = #KEYS
local limit, period, newest = {}, {}, {}
for i = 1, n do
  limit[i] = math.max(tonumber(ARGV[2 * i + 1]), 1)
  period[i] = tonumber(ARGV[2 * i + 2])
  local head = redis.call('LINDEX', KEYS[i], 0)
  if head then
    newest[i] = tonumber(head)
    -- A clock that went back is read as the newest stored time, so lists stay sorted.
    if newest[i] > now then now = newest[i] end
  end
end

-- Entries still in the window (later than now - period) form the head of the list. Counted
-- without writing: a rejected check must leave no trace, not even dropping entries that left
-- the window, since a clock that steps back can bring them in again.
local function live(key, cutoff)
  local len = redis.call('LLEN', key)
  if len == 0 or tonumber(redis.call('LINDEX', key, -1)) > cutoff then return len end
  -- Binary search for the index of the newest entry that left; the ones before it are live.
  -- O(log limit) LINDEX calls on a list of at most `limit` entries.
  local lo, hi = 0, len - 1
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if tonumber(redis.call('LINDEX', key, mid)) > cutoff then lo = mid + 1 else hi = mid end
  end
  return lo
end

local count = {}
local allowed = 1
for i = 1, n do
  count[i] = live(KEYS[i], now - period[i])
  if count[i] >= limit[i] then allowed = 0 end
end

local consume = allowed == 1 and ARGV[1] == 'check'
local stamp = string.format('%.0f', now)
local reply = {allowed}
for i = 1, n do
  if consume then
    -- Keep the new entry and the count[i] (< limit) still in the window: at most `limit`.
    redis.call('LPUSH', KEYS[i], stamp)
    redis.call('LTRIM', KEYS[i], 0, count[i])
    -- After one period without a new request every entry has left: the list goes with them.
    redis.call('PEXPIRE', KEYS[i], string.format('%.0f', math.max(math.ceil(period[i] / 1000), 1)))
    count[i] = count[i] + 1
    newest[i] = now
  end
  local retry = 0
  if allowed == 0 and count[i] >= limit[i] then
    -- Full until its limit-th newest entry leaves the window.
    retry = tonumber(redis.call('LINDEX', KEYS[i], limit[i] - 1)) + period[i] - now
  end
  local reset = 0
  if newest[i] then reset = math.max(newest[i] + period[i] - now, 0) end
  reply[3 * i - 1] = math.max(limit[i] - count[i], 0)
  reply[3 * i] = reset
  reply[3 * i + 1] = retry
end
return reply
