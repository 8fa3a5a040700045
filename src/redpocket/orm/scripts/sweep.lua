-- Remove the records whose deadline has passed, with their index entries, claims and streams.
-- KEYS[1] expiry sorted set (id -> deadline in ms), KEYS[2] ids set
-- ARGV: tag, then the layout: n, (attr, kinds)*, nstreams, (attr)*
-- Returns the number of records removed.
local expires, ids, tag = KEYS[1], KEYS[2], ARGV[1]
if redis.call('EXISTS', expires) == 0 then return 0 end
local due = redis.call('ZRANGE', expires, '-inf', now_ms(), 'BYSCORE')
for _, id in ipairs(due) do remove_record(tag, ids, expires, id, ARGV, 2) end
-- A model's stored schema goes with its last record (a partition's tag has none: a no-op).
if #due > 0 and redis.call('SCARD', ids) == 0 then redis.call('DEL', tag .. ':schema') end
return #due
