-- Put a product's variants on sale: sets each variant only if absent (two processes
-- loading at once: the first wins, the second is a no-op), so I1 holds.
-- KEYS: 1 stock, 2 counts, 3 holdinfo.  ARGV: variant, total, sold-in-SQL triples.
-- available = total - sold - held (holds still in Redis count as held).  Returns #loaded.
local held = {}
for _, raw in ipairs(redis.call('HVALS', KEYS[3])) do
  for _, l in ipairs(cjson.decode(raw)['l']) do
    local k = tostring(l[1])
    held[k] = (held[k] or 0) + l[2]
  end
end
local loaded = 0
for i = 1, #ARGV, 3 do
  local v = ARGV[i]
  if redis.call('HEXISTS', KEYS[1], v) == 0 then
    local t = tonumber(ARGV[i + 1])
    local s = tonumber(ARGV[i + 2])
    local h = held[v] or 0
    local a = t - s - h
    if a < 0 then a = 0 end
    redis.call('HSET', KEYS[1], v, a)
    redis.call('HSET', KEYS[2], 't:' .. v, t, 's:' .. v, s, 'h:' .. v, h)
    loaded = loaded + 1
  end
end
return loaded
