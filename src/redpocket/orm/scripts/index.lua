-- Shared helpers, prepended to apply.lua, sweep.lua and expire.lua.
-- Index keys are composed from the record's hash tag exactly as orm/keys.py names them:
--   tag..':eq:'..attr..':'..value  (set)   tag..':num:'..attr (zset)
--   tag..':pre:'..attr (zset of value\0id)  tag..':uniq:'..attr (hash value -> id)
-- An attribute's "kinds" string lists its index entries: e(quality) n(umeric) p(refix) u(nique claim).

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function unindex(tag, id, attr, kinds, value)
  for kind in string.gmatch(kinds, '.') do
    if kind == 'e' then redis.call('SREM', tag .. ':eq:' .. attr .. ':' .. value, id)
    elseif kind == 'n' then redis.call('ZREM', tag .. ':num:' .. attr, id)
    elseif kind == 'p' then redis.call('ZREM', tag .. ':pre:' .. attr, value .. '\0' .. id)
    elseif kind == 'u' then
      local claims = tag .. ':uniq:' .. attr
      if redis.call('HGET', claims, value) == id then redis.call('HDEL', claims, value) end
    end
  end
end

-- score: the numeric index's score (for a computed Integer/Float value, the value itself)
local function index(tag, id, attr, kinds, value, score)
  for kind in string.gmatch(kinds, '.') do
    if kind == 'e' then redis.call('SADD', tag .. ':eq:' .. attr .. ':' .. value, id)
    elseif kind == 'n' then redis.call('ZADD', tag .. ':num:' .. attr, score, id)
    elseif kind == 'p' then redis.call('ZADD', tag .. ':pre:' .. attr, 0, value .. '\0' .. id)
    elseif kind == 'u' then redis.call('HSET', tag .. ':uniq:' .. attr, value, id)
    end
  end
end

-- Remove one record with its index entries and streams.  layout: n, (attr, kinds)*, nstreams, (attr)*
local function remove_record(tag, ids, expires, id, layout, at)
  local record = tag .. ':id:' .. id
  local n = tonumber(layout[at])
  for j = 0, n - 1 do
    local attr, kinds = layout[at + 1 + 2 * j], layout[at + 2 + 2 * j]
    local value = redis.call('HGET', record, attr)
    if value then unindex(tag, id, attr, kinds, value) end
  end
  local s = at + 1 + 2 * n
  for j = 1, tonumber(layout[s]) do redis.call('DEL', tag .. ':stream:' .. layout[s + j] .. ':' .. id) end
  redis.call('DEL', record)
  redis.call('SREM', ids, id)
  redis.call('ZREM', expires, id)
end

-- Python's repr() of a float (the shortest text that reads back as the same number).
local function float_text(v)
  if v ~= v or v == math.huge or v == -math.huge then return nil end
  if v == 0 then
    if 1 / v < 0 then return '-0.0' end
    return '0.0'
  end
  local s
  for p = 0, 16 do
    s = string.format('%.' .. p .. 'e', v)
    if tonumber(s) == v then break end
  end
  local sign, lead, frac, exp = string.match(s, '^(-?)(%d)%.?(%d*)e([-+]%d+)$')
  local digits = (string.gsub(lead .. frac, '0+$', ''))
  if digits == '' then digits = '0' end
  local e = tonumber(exp)
  if e >= -4 and e < 16 then
    if e < 0 then return sign .. '0.' .. string.rep('0', -e - 1) .. digits end
    if #digits <= e + 1 then return sign .. digits .. string.rep('0', e + 1 - #digits) .. '.0' end
    return sign .. string.sub(digits, 1, e + 1) .. '.' .. string.sub(digits, e + 2)
  end
  local mantissa = string.sub(digits, 1, 1)
  if #digits > 1 then mantissa = mantissa .. '.' .. string.sub(digits, 2) end
  local magnitude = math.abs(e)
  local exponent = (e < 0 and '-' or '+') .. (magnitude < 10 and '0' or '') .. magnitude
  return sign .. mantissa .. 'e' .. exponent
end
