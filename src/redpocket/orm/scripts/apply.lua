-- Apply one record change atomically: checks, unique claims, then writes.
-- Every key is declared in KEYS (no key is named inside the script), so it
-- runs unchanged on Redis Cluster: all keys share the model's hash tag.
--
-- KEYS[1] record hash, KEYS[2] ids set, KEYS[3..] other keys (indexes, streams)
-- ARGV: id, version_field ("" = unversioned), expected_version ("0" = new record),
--   nchecks, (field, expected)*       expected "\0absent" = field must be absent
--   nclaims, (keyidx, value, attr)*   unique: value free or already ours
--   nset, (field, value)*             HSET on the record
--   ndel, (field)*                    HDEL on the record
--   nops, (op, keyidx, arg1, arg2)*   index and stream operations
--   delete_record ("1" or "0")
-- Returns {"ok", version, deleted} | {"stale", field} | {"unique", attr, value} | {"conflict", version}
local record, ids = KEYS[1], KEYS[2]
local id, version_field, expected_version = ARGV[1], ARGV[2], ARGV[3]
local i = 4

if version_field ~= '' then
  local current_version = redis.call('HGET', record, version_field) or '0'
  if current_version ~= expected_version then
    return {'conflict', current_version}
  end
end

local nchecks = tonumber(ARGV[i]); i = i + 1
for _ = 1, nchecks do
  local field, expected = ARGV[i], ARGV[i + 1]; i = i + 2
  local stored = redis.call('HGET', record, field)
  if expected == '\0absent' then
    if stored then return {'stale', field} end
  elseif stored ~= expected then
    return {'stale', field}
  end
end

local nclaims = tonumber(ARGV[i]); i = i + 1
for _ = 1, nclaims do
  local key, value, attr = KEYS[tonumber(ARGV[i])], ARGV[i + 1], ARGV[i + 2]; i = i + 3
  local owner = redis.call('HGET', key, value)
  if owner and owner ~= id then return {'unique', attr, value} end
end
i = i - nclaims * 3
for _ = 1, nclaims do
  redis.call('HSET', KEYS[tonumber(ARGV[i])], ARGV[i + 1], id); i = i + 3
end

local nset = tonumber(ARGV[i]); i = i + 1
if nset > 0 then
  local args = {}
  for n = 1, nset * 2 do args[n] = ARGV[i + n - 1] end
  i = i + nset * 2
  redis.call('HSET', record, unpack(args))
end

local ndel = tonumber(ARGV[i]); i = i + 1
if ndel > 0 then
  local args = {}
  for n = 1, ndel do args[n] = ARGV[i + n - 1] end
  i = i + ndel
  redis.call('HDEL', record, unpack(args))
end

local deleted = 0
local nops = tonumber(ARGV[i]); i = i + 1
for _ = 1, nops do
  local op, key, a, b = ARGV[i], KEYS[tonumber(ARGV[i + 1])], ARGV[i + 2], ARGV[i + 3]; i = i + 4
  if op == 'sadd' then redis.call('SADD', key, a)
  elseif op == 'srem' then redis.call('SREM', key, a)
  elseif op == 'zadd' then redis.call('ZADD', key, b, a)
  elseif op == 'zrem' then redis.call('ZREM', key, a)
  elseif op == 'release' then
    if redis.call('HGET', key, a) == id then redis.call('HDEL', key, a) end
  elseif op == 'set' then redis.call('SET', key, a)
  elseif op == 'del' then deleted = deleted + redis.call('DEL', key)
  end
end

local version = 0
if ARGV[i] == '1' then
  deleted = deleted + redis.call('DEL', record)
  redis.call('SREM', ids, id)
else
  if version_field ~= '' then version = redis.call('HINCRBY', record, version_field, 1) end
  redis.call('SADD', ids, id)
end
return {'ok', version, deleted}
