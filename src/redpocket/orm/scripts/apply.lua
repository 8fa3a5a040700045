-- Apply one record change atomically: checks, unique claims, then writes.
-- Every key is declared in KEYS (no key is named inside the script), so it
-- runs unchanged on Redis Cluster: all keys share the model's hash tag.
--
-- KEYS[1] record hash, KEYS[2] ids set, then one key per claim, then one per op, in order
-- ARGV: id, version_field ("" = unversioned), expected_version ("0" = new record),
--   nchecks, (field, expected)*       nchecks -1: a new record, its hash must not exist;
--                                     expected "\0absent": the field must be absent
--   nclaims, (value, attr)*           unique: value free or already ours
--   nset, (field, value)*             HSET on the record
--   ndel, (field)*                    HDEL on the record
--   nops, (op[, arg])*                index and stream operations on the next key:
--     sadd / srem / zrem: the id; zadd score: the id; padd / prem member: a prefix entry;
--     release value: a unique claim, if ours; set value / del: a stream
--   delete_record ("1" or "0")
-- Returns {"ok", version, deleted} | {"stale", field} | {"unique", attr, value} | {"conflict", version}
local record, ids = KEYS[1], KEYS[2]
local id, version_field, expected_version = ARGV[1], ARGV[2], ARGV[3]
local i, k = 5, 3

if version_field ~= '' then
  local current_version = redis.call('HGET', record, version_field) or '0'
  if current_version ~= expected_version then
    return {'conflict', current_version}
  end
end

local nchecks = tonumber(ARGV[4])
if nchecks < 0 then
  if redis.call('EXISTS', record) == 1 then return {'stale', ''} end
elseif nchecks > 0 then
  local fields = {}
  for n = 1, nchecks do fields[n] = ARGV[i + 2 * n - 2] end
  local stored = redis.call('HMGET', record, unpack(fields))
  for n = 1, nchecks do
    local expected = ARGV[i + 2 * n - 1]
    if expected == '\0absent' then
      if stored[n] then return {'stale', fields[n]} end
    elseif stored[n] ~= expected then
      return {'stale', fields[n]}
    end
  end
  i = i + 2 * nchecks
end

-- A unique value must be free or already ours.  A single claim is taken with HSETNX,
-- which writes nothing when another record holds the value; several are all checked
-- before any is taken, so a conflict never leaves a write behind.
local nclaims = tonumber(ARGV[i]); i = i + 1
if nclaims == 1 then
  if redis.call('HSETNX', KEYS[k], ARGV[i], id) == 0 and redis.call('HGET', KEYS[k], ARGV[i]) ~= id then
    return {'unique', ARGV[i + 1], ARGV[i]}
  end
elseif nclaims > 1 then
  for n = 0, nclaims - 1 do
    local owner = redis.call('HGET', KEYS[k + n], ARGV[i + 2 * n])
    if owner and owner ~= id then return {'unique', ARGV[i + 2 * n + 1], ARGV[i + 2 * n]} end
  end
  for n = 0, nclaims - 1 do redis.call('HSET', KEYS[k + n], ARGV[i + 2 * n], id) end
end
i, k = i + 2 * nclaims, k + nclaims

local nset = tonumber(ARGV[i]); i = i + 1
if nset > 0 then
  redis.call('HSET', record, unpack(ARGV, i, i + 2 * nset - 1))
  i = i + 2 * nset
end

local ndel = tonumber(ARGV[i]); i = i + 1
if ndel > 0 then
  redis.call('HDEL', record, unpack(ARGV, i, i + ndel - 1))
  i = i + ndel
end

local deleted = 0
local nops = tonumber(ARGV[i]); i = i + 1
for _ = 1, nops do
  local op, key = ARGV[i], KEYS[k]; i, k = i + 1, k + 1
  if op == 'sadd' then redis.call('SADD', key, id)
  elseif op == 'srem' then redis.call('SREM', key, id)
  elseif op == 'zrem' then redis.call('ZREM', key, id)
  elseif op == 'del' then deleted = deleted + redis.call('DEL', key)
  else
    local arg = ARGV[i]; i = i + 1
    if op == 'zadd' then redis.call('ZADD', key, arg, id)
    elseif op == 'padd' then redis.call('ZADD', key, 0, arg)
    elseif op == 'prem' then redis.call('ZREM', key, arg)
    elseif op == 'release' then
      if redis.call('HGET', key, arg) == id then redis.call('HDEL', key, arg) end
    elseif op == 'set' then redis.call('SET', key, arg)
    end
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
