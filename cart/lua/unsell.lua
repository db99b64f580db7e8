-- Return sold units to stock (a refunded order).  KEYS: 1 stock, 2 counts.
-- ARGV: variant, quantity pairs.  Returns 1, or 0 if the product is not on sale in Redis
-- (its next load computes from SQL, which already has the refund).
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
for i = 1, #ARGV, 2 do
  if redis.call('HEXISTS', KEYS[1], ARGV[i]) == 1 then
    redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
    redis.call('HINCRBY', KEYS[2], 's:' .. ARGV[i], -tonumber(ARGV[i + 1]))
  end
end
return 1
