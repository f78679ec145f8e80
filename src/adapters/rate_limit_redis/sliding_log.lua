-- Sliding-log checks (or peeks) of a batch of buckets, one after the other in the order given,
-- each over every window of its bucket; see `domain::sliding_log`. The whole batch runs
-- atomically, so a check sees every earlier check of the batch (the same key may come twice).
-- KEYS: the windows' keys of every check in order, each a LIST of the times (µs since the Unix
--   epoch) the window admitted, newest first; the keys of one check share one hash tag (and on
--   a cluster, every key of a batch shares one slot: the caller groups checks by slot).
-- ARGV[1]: now in µs, or '' for the server clock (tests pin it to compare with Rust).
-- Then per check: 'check' (record the request when every window allows it) or 'peek' (write
--   nothing), the number n of its windows, and n pairs of limit and period (µs).
-- Reply, per check: allowed (1|0), then per window: remaining, reset µs, retry µs (0 when it
--   allows); or the single value -1 when Redis refused a command of that check (a key of the
--   wrong type), which then wrote nothing and leaves the other checks of the batch unaffected.
-- Lua numbers are doubles: exact for integers below 2^53 µs (about 285 years).
local clock
if ARGV[1] ~= '' then
  clock = tonumber(ARGV[1])
else
  local time = redis.call('TIME')
  clock = tonumber(time[1]) * 1000000 + tonumber(time[2])
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

-- One check of the windows whose keys are KEYS[k + 1 .. k + n] and whose limits and periods
-- start at ARGV[a]; appends its reply to `reply`.
local function check(mode, k, n, a, reply)
  local now = clock
  local key, limit, period, newest = {}, {}, {}, {}
  for i = 1, n do
    key[i] = KEYS[k + i]
    limit[i] = math.max(tonumber(ARGV[a + 2 * i - 2]), 1)
    period[i] = tonumber(ARGV[a + 2 * i - 1])
    local head = redis.call('LINDEX', key[i], 0)
    if head then
      newest[i] = tonumber(head)
      -- A clock that went back is read as the newest stored time, so lists stay sorted.
      if newest[i] > now then now = newest[i] end
    end
  end

  local count = {}
  local allowed = 1
  for i = 1, n do
    count[i] = live(key[i], now - period[i])
    if count[i] >= limit[i] then allowed = 0 end
  end

  local consume = allowed == 1 and mode == 'check'
  local stamp = string.format('%.0f', now)
  local out = {allowed}
  for i = 1, n do
    if consume then
      -- Keep the new entry and the count[i] (< limit) still in the window: at most `limit`.
      redis.call('LPUSH', key[i], stamp)
      redis.call('LTRIM', key[i], 0, count[i])
      -- After one period without a new request every entry has left: the list goes with them.
      redis.call('PEXPIRE', key[i], string.format('%.0f', math.max(math.ceil(period[i] / 1000), 1)))
      count[i] = count[i] + 1
      newest[i] = now
    end
    local retry = 0
    if allowed == 0 and count[i] >= limit[i] then
      -- Full until its limit-th newest entry leaves the window.
      retry = tonumber(redis.call('LINDEX', key[i], limit[i] - 1)) + period[i] - now
    end
    local reset = 0
    if newest[i] then reset = math.max(newest[i] + period[i] - now, 0) end
    out[3 * i - 1] = math.max(limit[i] - count[i], 0)
    out[3 * i] = reset
    out[3 * i + 1] = retry
  end
  -- Every read comes before the first write, so a refused command leaves nothing behind.
  for _, v in ipairs(out) do reply[#reply + 1] = v end
end

local reply = {}
local k, a = 0, 2
while a <= #ARGV do
  local mode, n = ARGV[a], tonumber(ARGV[a + 1])
  local ok = pcall(check, mode, k, n, a + 2, reply)
  if not ok then reply[#reply + 1] = -1 end
  k = k + n
  a = a + 2 + 2 * n
end
return reply
