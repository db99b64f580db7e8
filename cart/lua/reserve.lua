-- Reserve units of one product for one hold: all lines or none.
-- KEYS: 1 stock, 2 counts, 3 holds, 4 holdinfo, 5 buyers
-- ARGV: 1 hold id, 2 expiry ms, 3 user id, 4 per-user cap (0: none), 5 pin id (0: no flash),
--       6 flash cap (-1: none), 7.. variant, quantity pairs (each variant once)
-- Returns {1, flash units, units left} | {2, flash units, 0} (hold exists: a retry)
--       | {0, variant, available} | {-1} not on sale | {-2, units already} | {-3, variant}
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end
local existing = redis.call('HGET', KEYS[4], ARGV[1])
if existing then
  return {2, cjson.decode(existing)['f'], 0}
end
local n = 0
local lines = {}
for i = 7, #ARGV, 2 do
  local v = ARGV[i]
  local q = tonumber(ARGV[i + 1])
  local a = redis.call('HGET', KEYS[1], v)
  if not a then return {-3, tonumber(v)} end
  a = tonumber(a)
  if a < q then return {0, tonumber(v), a} end
  n = n + q
  lines[#lines + 1] = {tonumber(v), q}
end
local user = ARGV[3]
local cap = tonumber(ARGV[4])
local bought = tonumber(redis.call('HGET', KEYS[5], user) or '0')
if cap > 0 and bought + n > cap then return {-2, bought} end
local flash = 0
local pin = ARGV[5]
if pin ~= '0' then
  local fcap = tonumber(ARGV[6])
  local f = tonumber(redis.call('HGET', KEYS[2], 'f:' .. pin) or '0')
  -- The whole hold is at the flash price or none of it: a buyer never gets a mixed bill.
  if fcap < 0 or f + n <= fcap then
    flash = n
    redis.call('HINCRBY', KEYS[2], 'f:' .. pin, n)
  end
end
for _, l in ipairs(lines) do
  redis.call('HINCRBY', KEYS[1], l[1], -l[2])
  redis.call('HINCRBY', KEYS[2], 'h:' .. l[1], l[2])
end
redis.call('HINCRBY', KEYS[5], user, n)
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[4], ARGV[1],
  cjson.encode({u = tonumber(user), p = tonumber(pin), f = flash, l = lines}))
local left = 0
for _, v in ipairs(redis.call('HVALS', KEYS[1])) do left = left + tonumber(v) end
return {1, flash, left}
