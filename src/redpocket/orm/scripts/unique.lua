-- Copy the id of the record holding a unique value into a scratch set.
-- KEYS[1] unique claims hash (value -> id), KEYS[2] scratch set
-- ARGV[1] value, ARGV[2] ttl in seconds
local id = redis.call('HGET', KEYS[1], ARGV[1])
if not id then return 0 end
redis.call('SADD', KEYS[2], id)
redis.call('EXPIRE', KEYS[2], ARGV[2])
return 1
