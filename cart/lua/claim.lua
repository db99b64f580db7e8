-- Claim a hold for the SQL write: move its expiry to ARGV[2] so the reaper's
-- conditional release (release.lua with a time) cannot take it while the order commits.
-- KEYS: 1 holds, 2 holdinfo.  ARGV: 1 hold id, 2 new expiry ms.  Returns 1, or 0 if gone.
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[1], 'XX', ARGV[2], ARGV[1])
return 1
