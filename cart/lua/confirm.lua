-- Confirm a hold: its order is committed in SQL; the units stay sold.
-- KEYS: 1 counts, 2 holds, 3 holdinfo.  ARGV: 1 hold id.  Returns 1, or 0 if no such hold.
local raw = redis.call('HGET', KEYS[3], ARGV[1])
if not raw then return 0 end
for _, l in ipairs(cjson.decode(raw)['l']) do
  redis.call('HINCRBY', KEYS[1], 'h:' .. l[1], -l[2])
  redis.call('HINCRBY', KEYS[1], 's:' .. l[1], l[2])
end
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
