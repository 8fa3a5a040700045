-- Apply one record change atomically: checks, computed values, unique claims, then writes.
-- Index keys of computed (F) values are composed from the tag (see index.lua); every
-- other key is declared in KEYS, and all share the record's hash tag: one cluster slot.
--
-- KEYS[1] record hash, KEYS[2] ids set, KEYS[3] expiry sorted set (id -> deadline in ms),
--   then one key per claim, then one per op, in order
-- ARGV: id, version_field ("" = unversioned), expected_version ("0" = new record), tag,
--   ttl ("" keep, "persist", or milliseconds from now), must_exist ("1": reply gone if absent),
--   schema key ("" for none: a partitioned model; else created records need it, and it goes
--   with the model's last record),
--   nchecks, (field, expected)*       nchecks -1: a new record, its hash must not exist;
--                                     expected "\0absent": the field must be absent
--   ncomputed, (field, type, source, default, kinds, nsteps, (op, operand)*)*
--                                     field = F(source) <op> operand ...; type "i" integer / "f" float;
--                                     default: the source's value when absent; kinds: its index entries
--   nclaims, (value, attr)*           unique: value free or already ours
--   nset, (field, value)*             HSET on the record
--   ndel, (field)*                    HDEL on the record
--   nops, (op[, arg])*                index and stream operations on the next key:
--     sadd / srem / zrem: the id; zadd score: the id; padd / prem member: a prefix entry;
--     release value: a unique claim, if ours; set value / del: a stream
--   delete_record ("1" or "0")
-- Returns {"ok", version (a delete: 1 when it deleted the model's last record), deleted, computed value*} | {"stale", field} | {"unique", attr, value}
--   | {"conflict", version} | {"gone"} | {"expired"} | {"range", field}
--   | {"sweep"} (a unique value is held by an expired record: sweep, then run again)
--   | {"schema"} (a record is created but the model has no stored schema: store it, run again)
local record, ids, expires = KEYS[1], KEYS[2], KEYS[3]
local id, version_field, expected_version, tag = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local ttl, must_exist, schema = ARGV[5], ARGV[6], ARGV[7]
local i, k = 9, 4

local delete = ARGV[#ARGV] == '1'
local now, deadline = nil, nil

-- An expired record (not swept yet) is neither saved to nor deleted: the caller sweeps it
-- first.  A new record is checked only when its hash exists.
local function expired()
  deadline = redis.call('ZSCORE', expires, id)
  if not deadline then return false end
  now = now or now_ms()
  return tonumber(deadline) <= now
end

-- The holder of a unique value we want: false when it is us or an expired record (then sweep first).
local function held_by_other(owner)
  if not owner or owner == id then return false end
  local until_ms = redis.call('ZSCORE', expires, owner)
  if until_ms and tonumber(until_ms) <= (now or now_ms()) then return nil end
  return true
end

if must_exist == '1' and redis.call('EXISTS', record) == 0 then return {'gone'} end

if version_field ~= '' then
  local current_version = redis.call('HGET', record, version_field) or '0'
  if current_version ~= expected_version then
    return {'conflict', current_version}
  end
end

local nchecks = tonumber(ARGV[8])
if nchecks >= 0 and expired() then return {'expired'} end
if nchecks < 0 then
  if redis.call('EXISTS', record) == 1 then
    if expired() then return {'expired'} end
    return {'stale', ''}
  end
  if schema ~= '' and redis.call('EXISTS', schema) == 0 then return {'schema'} end
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

-- Computed values: read and evaluate every one before anything is written.
local computed = {}
local ncomputed = tonumber(ARGV[i]); i = i + 1
for n = 1, ncomputed do
  local field, kind, source, default, kinds = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local nsteps = tonumber(ARGV[i + 5]); i = i + 6
  local value = tonumber(redis.call('HGET', record, source) or default)
  if value == nil then return {'range', field} end
  for _ = 1, nsteps do
    local op, operand = ARGV[i], tonumber(ARGV[i + 1]); i = i + 2
    if op == '+' then value = value + operand
    elseif op == '-' then value = value - operand
    elseif op == '*' then value = value * operand
    elseif kind == 'i' then value = math.floor(value / operand)
    else value = value / operand
    end
  end
  local text
  if kind == 'i' then
    if value ~= value or math.abs(value) >= 9007199254740992 then return {'range', field} end
    text = string.format('%d', value)
  else
    text = float_text(value)
    if text == nil then return {'range', field} end
  end
  computed[n] = {field, kinds, text, value, redis.call('HGET', record, field)}
  if string.find(kinds, 'u', 1, true) then
    local holder = held_by_other(redis.call('HGET', tag .. ':uniq:' .. field, text))
    if holder == nil then return {'sweep'} end
    if holder then return {'unique', field, text} end
  end
end

-- A unique value must be free or already ours.  A single claim is taken with HSETNX,
-- which writes nothing when another record holds the value; several are all checked
-- before any is taken, so a conflict never leaves a write behind.
local nclaims = tonumber(ARGV[i]); i = i + 1
if nclaims == 1 then
  if redis.call('HSETNX', KEYS[k], ARGV[i], id) == 0 then
    local holder = held_by_other(redis.call('HGET', KEYS[k], ARGV[i]))
    if holder == nil then return {'sweep'} end
    if holder then return {'unique', ARGV[i + 1], ARGV[i]} end
  end
elseif nclaims > 1 then
  for n = 0, nclaims - 1 do
    local holder = held_by_other(redis.call('HGET', KEYS[k + n], ARGV[i + 2 * n]))
    if holder == nil then return {'sweep'} end
    if holder then return {'unique', ARGV[i + 2 * n + 1], ARGV[i + 2 * n]} end
  end
  for n = 0, nclaims - 1 do redis.call('HSET', KEYS[k + n], ARGV[i + 2 * n], id) end
end
i, k = i + 2 * nclaims, k + nclaims

local reply = {'ok', 0, 0}
for n = 1, ncomputed do
  local field, kinds, text, value, old = unpack(computed[n])
  redis.call('HSET', record, field, text)
  if old ~= text then
    if old then unindex(tag, id, field, kinds, old) end
    index(tag, id, field, kinds, text, text)
  end
  reply[3 + n] = text
end

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

if delete then
  deleted = deleted + redis.call('DEL', record)
  redis.call('SREM', ids, id)
  if deadline then redis.call('ZREM', expires, id) end
  if schema ~= '' and redis.call('SCARD', ids) == 0 then
    redis.call('DEL', schema)
    reply[2] = 1  -- a delete's version: the schema went with the last record
  end
else
  if version_field ~= '' then reply[2] = redis.call('HINCRBY', record, version_field, 1) end
  redis.call('SADD', ids, id)
  if ttl == 'persist' then
    redis.call('ZREM', expires, id)
  elseif ttl ~= '' then
    redis.call('ZADD', expires, (now or now_ms()) + tonumber(ttl), id)
  end
end
reply[3] = deleted
return reply
