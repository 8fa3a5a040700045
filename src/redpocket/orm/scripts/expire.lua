-- Set or clear one record's deadline.
-- KEYS[1] record hash, KEYS[2] expiry sorted set; ARGV[1] id, ARGV[2] milliseconds from now, or "persist"
-- Returns 1, or 0 when the record does not exist (or has already expired).
local record, expires, id = KEYS[1], KEYS[2], ARGV[1]
local deadline = redis.call('ZSCORE', expires, id)
local now = now_ms()
if redis.call('EXISTS', record) == 0 or (deadline and tonumber(deadline) <= now) then return 0 end
if ARGV[2] == 'persist' then
  redis.call('ZREM', expires, id)
else
  redis.call('ZADD', expires, now + tonumber(ARGV[2]), id)
end
return 1
