-- Claim a hold for the SQL write: move its expiry to ARGV[2] so the reaper's
-- conditional release (release.lua with a time) cannot take it while the order commits,
-- and (ARGV[3], JSON, optional) record the payment authorized for it, so that if this
-- checkout dies before its order is committed, the reaper that returns the units also
-- returns the money.
-- KEYS: 1 holds, 2 holdinfo.  ARGV: 1 hold id, 2 new expiry ms, 3 payment or ''.
-- Returns 1, or 0 if the hold is gone.
local raw = redis.call('HGET', KEYS[2], ARGV[1])
if not raw then return 0 end
redis.call('ZADD', KEYS[1], 'XX', ARGV[2], ARGV[1])
if ARGV[3] ~= '' then
  local info = cjson.decode(raw)
  info['a'] = cjson.decode(ARGV[3])
  redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(info))
end
return 1
