-- Reconcile one variant with SQL, only in the safe direction: available may go DOWN to
-- total - sold(SQL) - held, never up (raising it could oversell if an order is in flight).
-- KEYS: 1 stock, 2 counts, 3 holdinfo.  ARGV: 1 variant, 2 total, 3 sold in SQL.
-- Returns {available before, available after, held}.
local v = ARGV[1]
local t = tonumber(ARGV[2])
local s = tonumber(ARGV[3])
local held = 0
for _, raw in ipairs(redis.call('HVALS', KEYS[3])) do
  for _, l in ipairs(cjson.decode(raw)['l']) do
    if tostring(l[1]) == v then held = held + l[2] end
  end
end
local a = tonumber(redis.call('HGET', KEYS[1], v) or '0')
local want = t - s - held
if want < 0 then want = 0 end
local new = a
if a > want then
  new = want
  redis.call('HSET', KEYS[1], v, new)
end
redis.call('HSET', KEYS[2], 'h:' .. v, held)
return {a, new, held}
