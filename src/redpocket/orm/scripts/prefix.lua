-- Collect the ids of a prefix index range into a scratch set.
-- KEYS[1] prefix sorted set (members "value\0id"), KEYS[2] scratch set
-- ARGV[1] min, ARGV[2] max (ZRANGE BYLEX bounds), ARGV[3] ttl in seconds
local members = redis.call('ZRANGE', KEYS[1], ARGV[1], ARGV[2], 'BYLEX')
local n = 0
for _, member in ipairs(members) do
  local id = string.match(member, '%z([^%z]*)$')
  if id then redis.call('SADD', KEYS[2], id); n = n + 1 end
end
if n > 0 then redis.call('EXPIRE', KEYS[2], ARGV[3]) end
return n
