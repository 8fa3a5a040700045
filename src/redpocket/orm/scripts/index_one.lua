-- Add one record's entries to an index being built, if the record still holds the value read.
-- ARGV: tag, id, attr, kinds, value, score.  Returns 1 when indexed, 0 when the value changed
-- since (the save that changed it maintained the index itself).
local tag, id, attr, kinds, value, score = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
if redis.call('HGET', KEYS[1], attr) ~= value then return 0 end
if string.find(kinds, 'u', 1, true) then
  local owner = redis.call('HGET', tag .. ':uniq:' .. attr, value)
  if owner and owner ~= id then return -1 end
end
index(tag, id, attr, kinds, value, score)
return 1
