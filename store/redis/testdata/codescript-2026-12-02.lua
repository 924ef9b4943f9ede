-- codeScript as linkguard ran it before 2 December 2026 (commit 071abb1):
-- it reads and rebuilds the link's json field on every change.
-- TestRollingUpgrade runs it as an old instance would, after luaQueue
-- (the webhook queue, which it called as the scripts still do). Never
-- update it.
local function pending(k, at)
  local f = redis.call('HMGET', k, 'state', 'exp')
  return f[1] == 'pending' and at < f[2]
end
local function build(k)
  local f = redis.call('HMGET', k, 'json', 'hl', 'mid', 'state', 'consumed_at', 'revoked_at', 'attempts', 'verdict', 'delivery')
  local s = string.sub(f[1], 1, tonumber(f[2])) .. ',"state":"' .. f[4] .. '"' .. f[3]
  if f[5] ~= '' then s = s .. ',"consumed_at":' .. f[5] end
  if f[6] ~= '' then s = s .. ',"revoked_at":' .. f[6] end
  if f[7] ~= '0' then s = s .. ',"code_attempts":' .. f[7] end
  if f[8] ~= '' then s = s .. ',"verdict":' .. f[8] end
  if f[9] ~= '' then s = s .. ',"delivery":' .. f[9] end
  s = s .. '}'
  redis.call('HSET', k, 'json', s)
  return s, f[1]
end
if redis.call('EXISTS', KEYS[1]) == 0 then return {0} end
if not pending(KEYS[1], ARGV[1]) then return {1, redis.call('HGET', KEYS[1], 'json')} end
local n = tonumber(redis.call('HGET', KEYS[1], 'attempts'))
if n >= tonumber(ARGV[2]) then return {3, redis.call('HGET', KEYS[1], 'json')} end
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
local code = redis.call('HGET', KEYS[1], 'code')
if not code then code = cjson.decode(redis.call('HGET', KEYS[1], 'json')).code_hash end
if code ~= ARGV[3] then
  local d = 0
  if n + 1 >= tonumber(ARGV[2]) then d = queue(KEYS[3], KEYS[4], 9, 2) end
  local _, before = build(KEYS[1])
  return {4, before, d, n + 1}
end
redis.call('HSET', KEYS[1], 'state', 'consumed', 'consumed_at', ARGV[4], 'verdict', ARGV[5])
local _, before = build(KEYS[1])
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'json', ARGV[6], 'exp', ARGV[7])
redis.call('PEXPIREAT', KEYS[2], ARGV[8])
return {2, before, queue(KEYS[3], KEYS[4], 9, 1), n + 1}
