-- A variant's stock_total changes (before the SQL commit).  KEYS: 1 stock, 2 counts.
-- ARGV: 1 variant, 2 new total.  Returns {1} adjusted, {0} not on sale (nothing to do),
-- {-1, sold + held} refused: the new total is below what is sold or held.
if redis.call('EXISTS', KEYS[1]) == 0 then return {0} end
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return {0} end
local v = ARGV[1]
local new = tonumber(ARGV[2])
local t = tonumber(redis.call('HGET', KEYS[2], 't:' .. v) or '0')
local committed = tonumber(redis.call('HGET', KEYS[2], 's:' .. v) or '0')
  + tonumber(redis.call('HGET', KEYS[2], 'h:' .. v) or '0')
if new < committed then return {-1, committed} end
redis.call('HINCRBY', KEYS[1], v, new - t)
redis.call('HSET', KEYS[2], 't:' .. v, new)
return {1}
