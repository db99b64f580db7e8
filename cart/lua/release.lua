-- Release a hold: its units return to stock (and to the buyer's cap and the flash cap).
-- KEYS: 1 stock, 2 counts, 3 holds, 4 holdinfo, 5 buyers
-- ARGV: 1 hold id, 2 '' (always) or a time in ms: release only if the hold's expiry is
--       not later (a checkout that claimed the hold since the caller looked wins).
-- Returns 1 released, 0 no such hold, -1 the hold was claimed/extended meanwhile.
local raw = redis.call('HGET', KEYS[4], ARGV[1])
if not raw then return 0 end
if ARGV[2] ~= '' then
  local score = redis.call('ZSCORE', KEYS[3], ARGV[1])
  if score and tonumber(score) > tonumber(ARGV[2]) then return -1 end
end
local info = cjson.decode(raw)
local n = 0
for _, l in ipairs(info['l']) do
  redis.call('HINCRBY', KEYS[1], l[1], l[2])
  redis.call('HINCRBY', KEYS[2], 'h:' .. l[1], -l[2])
  n = n + l[2]
end
redis.call('HINCRBY', KEYS[5], tostring(info['u']), -n)
if info['f'] > 0 then
  redis.call('HINCRBY', KEYS[2], 'f:' .. tostring(info['p']), -info['f'])
end
redis.call('HDEL', KEYS[4], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return 1
