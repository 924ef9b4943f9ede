package redis

import goredis "github.com/redis/go-redis/v9"

// The Lua scripts. Each state change of the Store is one script, so Redis
// runs its check and its writes as one atomic step: no WATCH, no retry
// loop, no lock on the client side. go-redis runs them with EVALSHA and
// falls back to EVAL when the server has lost its script cache.
//
// Results are arrays whose first element says what happened:
// 0 = no such link (or job), 1 = refused (not pending), 2 = done,
// 3 = refused (too many code attempts), 4 = wrong code (counted).
//
// A change's answer is the link as it was before the change, in the
// form a read answers it (luaLink's read: its json, or its fields when
// stale): Go has just read those bytes (they decode from Store.decoded
// without work) and applies the change it sent (linkResult's change, in
// store.go), so that the verdict a consumption stores is not decoded
// again from JSON.

// luaLink reads links. link(k, ...) reads the fields Go assembles a
// link from (linkJSON; json is the Link as issued, the others are its
// changing parts, in the order of the Link's JSON), then the fields named
// after k (the change scripts check exp and code); a missing link reads
// as all false, and a part that a link stored by an older version lacks
// (reason) as false. read(k) is what the read scripts answer: {json}
// while json is the whole link, else link(k), or false when there is no
// link.
//
// NB: the scripts find what link read by its place in the reply: f[1] to
// f[10] are json, hl, mid, state, consumed_at, revoked_at, reason,
// attempts, verdict, delivery, and current's exp, code and stale follow
// at f[11] to f[13]. A part added to link() shifts every later place, in
// luaLib, luaBuild and codeScript, and linkFieldNames and linkJSON in Go.
// (reason, added after revoked_at, moved attempts from f[7] to f[8] and
// exp, code and stale from f[10..12] to f[11..13].)
//
// NB: the scripts that run on a request (a consumption, a code attempt,
// a revocation) change only the parts, and mark the link stale instead
// of rewriting json: rebuilding it cost more than the rest of a
// consumption (the verdict was written twice, and Lua hashes every
// string it makes). A read of a stale link reads its ten fields, a
// fresh one's only two: each field costs Redis about 0.4 µs (a Lua
// string, then a reply), and most reads (landing pages) are of pending
// links. The mail job's change of the delivery, once a link, off the
// request path, rebuilds json (build), so a mailed link stays fresh.
// Versions before 2 December 2026 read a link from json alone: they read
// a stale link as it was before its first change here (docs/redis.md,
// Upgrading); their own changes rebuild json, so it is right for both.
const luaLink = `
local function link(k, ...)
  return redis.call('HMGET', k, 'json', 'hl', 'mid', 'state', 'consumed_at', 'revoked_at', 'reason', 'attempts', 'verdict', 'delivery', ...)
end
local function read(k)
  local f = redis.call('HMGET', k, 'json', 'stale')
  if not f[1] then return false end
  if f[2] then return link(k) end
  return {f[1]}
end
`

// luaLib is shared by the scripts that change a link. current(k) reads
// its fields and exp, code and stale (f[11] to f[13]); pending(f, at) is
// StateAt(at) == Pending for them: the stored state is pending and at
// (20-digit ns) is before the expiry; answer(f) is the link for the reply,
// as read answers it.
const luaLib = luaLink + `
local function current(k)
  return link(k, 'exp', 'code', 'stale')
end
local function pending(f, at)
  return f[4] == 'pending' and at < f[11]
end
local function answer(f)
  if f[13] then return f end
  return {f[1]}
end
`

// luaBuild rebuilds field json from the parts, in the order and form
// that encoding/json writes a Link (linkParts.assemble is the same in
// Go), for finishMailScript; table.concat makes one string, where
// repeated .. made (and hashed) one a part. parts are the JSON names of
// link's f[5] onwards, in its order. A part that is missing (reason, on a
// link stored before it existed) is left out, as an empty one. A stale
// link stays marked stale (its json is whole again, but a reader of its
// fields gets the same link).
const luaBuild = `
local parts = {'consumed_at', 'revoked_at', 'revoke_reason', 'code_attempts', 'verdict', 'delivery'}
local function build(k)
  local f = link(k)
  local s = {string.sub(f[1], 1, tonumber(f[2])), ',"state":"', f[4], '"', f[3]}
  for i, name in ipairs(parts) do
    local v = f[4 + i]
    if v and v ~= '' and not (name == 'code_attempts' and v == '0') then
      s[#s + 1] = ',"' .. name .. '":' .. v
    end
  end
  s[#s + 1] = '}'
  redis.call('HSET', k, 'json', table.concat(s))
end
`

// luaQueue is shared by the scripts that queue webhook jobs: the jobs of
// a change are written by the script that makes the change (the outbox;
// Store.outboxArgs lays out its KEYS and ARGV).
//
// queue(kq, kl, i, g) reads, from ARGV[i]: the job key prefix, the most
// jobs pending (0: no bound), the length of the recent list, then two
// groups of jobs, each a count and, per job, id, json, due (ms), created
// (ms), listed (1 or 0). It queues group g (1 or 2) and returns how many
// jobs it dropped because the queue was full. A job whose key exists is
// left as it is (SET NX): queued twice, sent once.
const luaQueue = `
local function queue(kq, kl, i, g)
  local prefix, max, keep = ARGV[i], tonumber(ARGV[i+1]), tonumber(ARGV[i+2])
  local j = i + 3
  if g == 2 then j = j + 1 + 5 * tonumber(ARGV[j]) end
  local n = tonumber(ARGV[j])
  if n == 0 then return 0 end
  if max > 0 and redis.call('ZCARD', kq) >= max then return n end
  for k = j + 1, j + 5 * n, 5 do
    if redis.call('SET', prefix .. ARGV[k], ARGV[k+1], 'NX') then
      redis.call('ZADD', kq, ARGV[k+2], ARGV[k])
      if ARGV[k+4] == '1' then redis.call('ZADD', kl, ARGV[k+3], ARGV[k]) end
    end
  end
  local over = redis.call('ZCARD', kl) - keep
  if over > 0 then redis.call('ZREMRANGEBYRANK', kl, 0, over - 1) end
  return 0
end
`

// luaRing keeps a link's rings of visits (views, decisions): visitsScript
// and the consumption scripts, which write the record of the decision
// that consumed the link, share it, so that the record is stored alike
// whichever writes it.
//
// add(ring, z, max, lk, at) adds z (score, member, ...) to ring, keeps
// its newest max, and gives it an expiry when it has none: expire(k, lk,
// at) gives k the link key lk's remaining time (the link's keys expire
// at a fixed time), or at (ms) when lk has none. record(kd, lk, i) is
// the record of a consumption, from ARGV[i]: its visit json (empty for
// none), score (ms), the decisions kept and the fallback expiry (ms),
// added to the decisions ring kd of link lk (Store.recordArgs).
const luaRing = `
local function expire(k, lk, at)
  if redis.call('PTTL', k) >= 0 then return end
  local t = redis.call('PTTL', lk)
  if t > 0 then redis.call('PEXPIRE', k, t) else redis.call('PEXPIREAT', k, at) end
end
local function add(ring, z, max, lk, at)
  if #z == 0 then return end
  redis.call('ZADD', ring, unpack(z))
  local over = redis.call('ZCARD', ring) - max
  if over > 0 then redis.call('ZREMRANGEBYRANK', ring, 0, over - 1) end
  expire(ring, lk, at)
end
local function record(kd, lk, i)
  if ARGV[i] == '' then return end
  add(kd, {ARGV[i + 1], ARGV[i]}, tonumber(ARGV[i + 2]), lk, ARGV[i + 3])
end
`

// createScript stores a new link, its token and family index, revokes the
// family's older pending link and queues the mail, all at once.
//
// KEYS: link, token, family, mail job, queue, webhook queue, recent list.
// ARGV: id, json, hl, mid, state, exp, pxat, consumed_at, revoked_at,
// attempts, verdict, delivery, created (ns), revoked_at fragment for the
// older link, link key prefix, has mail ("1"), payload, due (ms), code
// hash (base64, as the json holds it), reason (the new link's part,
// empty), the older link's reason part (replaced), then the outbox from
// ARGV[22]. Result: the jobs dropped by a full webhook queue.
var createScript = goredis.NewScript(luaQueue + `
local old = redis.call('GET', KEYS[3])
if old and old ~= ARGV[1] then
  local ok = ARGV[15] .. old
  local f = redis.call('HMGET', ok, 'state', 'exp')
  if f[1] == 'pending' and ARGV[13] < f[2] then
    redis.call('HSET', ok, 'state', 'revoked', 'revoked_at', ARGV[14], 'reason', ARGV[21], 'stale', '1')
  end
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'json', ARGV[2], 'hl', ARGV[3], 'mid', ARGV[4], 'state', ARGV[5],
  'exp', ARGV[6], 'consumed_at', ARGV[8], 'revoked_at', ARGV[9], 'reason', ARGV[20], 'attempts', ARGV[10],
  'verdict', ARGV[11], 'delivery', ARGV[12], 'code', ARGV[19])
redis.call('PEXPIREAT', KEYS[1], ARGV[7])
redis.call('SET', KEYS[2], ARGV[1], 'PXAT', ARGV[7])
redis.call('SET', KEYS[3], ARGV[1], 'PXAT', ARGV[7])
if ARGV[16] == '1' then
  redis.call('DEL', KEYS[4])
  redis.call('HSET', KEYS[4], 'attempt', '0', 'payload', ARGV[17])
  redis.call('PEXPIREAT', KEYS[4], ARGV[7])
  redis.call('ZADD', KEYS[5], ARGV[18], ARGV[1])
end
return queue(KEYS[6], KEYS[7], 22, 1)
`)

// consumeScript moves a pending link to consumed, stores the handoff and
// the record of the decision that consumed it (luaRing's record).
//
// NB: the record is written here, in the consumption's own atomic step,
// and not by the visit writer as other visits are: with appendfsync
// always the consumption and the explanation of it share one AOF write
// and fsync, and neither a crash nor a full visit queue can keep one
// without the other (store/badger writes it in the consumption's
// transaction for the same reason). A refused consumption writes no
// record.
//
// NB: the record is not appended to the link's history summary (s:), as
// the visit writer's records are; store/badger's is not either. The
// summary is read for a decision on a pending link (Service.Report reads
// it only once finalResult has passed the link), and after this step the
// link is never pending again: an entry would cost Redis an RPUSH, a
// trim and an expiry for no reader.
//
// KEYS: link, handoff, decisions ring, webhook queue, recent list. ARGV:
// at (ns), consumed_at, verdict, handoff json, handoff exp (ns), handoff
// pxat (ms), the record from ARGV[7] (4 values), then the outbox from
// ARGV[11]. Result: {status, link fields (from before the change), jobs
// dropped}.
var consumeScript = goredis.NewScript(luaLib + luaQueue + luaRing + `
local f = current(KEYS[1])
if not f[1] then return {0} end
if not pending(f, ARGV[1]) then return {1, answer(f)} end
redis.call('HSET', KEYS[1], 'state', 'consumed', 'consumed_at', ARGV[2], 'verdict', ARGV[3], 'stale', '1')
redis.call('HSET', KEYS[2], 'json', ARGV[4], 'exp', ARGV[5])
redis.call('PEXPIREAT', KEYS[2], ARGV[6])
record(KEYS[3], KEYS[1], 7)
return {2, answer(f), queue(KEYS[4], KEYS[5], 11, 1)}
`)

// revokeScript moves a pending link to revoked, with its reason.
//
// KEYS: link, webhook queue, recent list. ARGV: at (ns), revoked_at,
// reason (its part), then the outbox from ARGV[4].
var revokeScript = goredis.NewScript(luaLib + luaQueue + `
local f = current(KEYS[1])
if not f[1] then return {0} end
if not pending(f, ARGV[1]) then return {1, answer(f)} end
redis.call('HSET', KEYS[1], 'state', 'revoked', 'revoked_at', ARGV[2], 'reason', ARGV[3], 'stale', '1')
return {2, answer(f), queue(KEYS[2], KEYS[3], 4, 1)}
`)

// codeScript is a typed code, checked and spent in one step: count the
// attempt, compare, and on a match consume and store the handoff.
//
// NB: every compare is counted, and the count stays when the code is
// wrong, so a guess is never free: a wrong code writes attempts + 1, a
// right one writes it with the consumption, in one HSET (a script runs
// whole, so no caller sees one without the other). The script is atomic,
// so parallel guesses run one after the other and no more than max are
// ever compared. The compare is of keyed hashes (HMACs an attacker cannot
// compute), and Lua 5.1 interns strings, so it is a pointer compare.
// Links stored before the code field existed are read from their json.
//
// A consumption writes its decision's record as consumeScript does; a
// wrong code, or a link with no try left, writes none.
//
// KEYS: link, handoff, decisions ring, webhook queue, recent list. ARGV:
// at (ns), max, code hash (base64), consumed_at, verdict, handoff json,
// handoff exp (ns), handoff pxat (ms), the record from ARGV[9] (4
// values), then the outbox from ARGV[13]: its first group is queued with
// a consumption, its second when a wrong code uses the last try. Result:
// {status, link fields, jobs dropped, attempts}; status 4 is a wrong
// code; when the attempt was counted (2, 4), the fields are from before
// it and attempts is the count after it.
var codeScript = goredis.NewScript(luaLib + luaQueue + luaRing + `
local f = current(KEYS[1])
if not f[1] then return {0} end
if not pending(f, ARGV[1]) then return {1, answer(f)} end
local n = tonumber(f[8])
if n >= tonumber(ARGV[2]) then return {3, answer(f)} end
local code = f[12]
if not code then code = cjson.decode(f[1]).code_hash end
if code ~= ARGV[3] then
  redis.call('HSET', KEYS[1], 'attempts', n + 1, 'stale', '1')
  local d = 0
  if n + 1 >= tonumber(ARGV[2]) then d = queue(KEYS[4], KEYS[5], 13, 2) end
  return {4, answer(f), d, n + 1}
end
redis.call('HSET', KEYS[1], 'attempts', n + 1, 'state', 'consumed', 'consumed_at', ARGV[4], 'verdict', ARGV[5], 'stale', '1')
redis.call('HSET', KEYS[2], 'json', ARGV[6], 'exp', ARGV[7])
redis.call('PEXPIREAT', KEYS[2], ARGV[8])
record(KEYS[3], KEYS[1], 9)
return {2, answer(f), queue(KEYS[4], KEYS[5], 13, 1), n + 1}
`)

// takeHandoffScript returns and deletes a handoff that has not expired.
//
// KEYS: handoff. ARGV: now (ns). Result: the handoff JSON, or nil.
var takeHandoffScript = goredis.NewScript(`
local f = redis.call('HMGET', KEYS[1], 'json', 'exp')
if not f[1] or not (ARGV[1] < f[2]) then return false end
redis.call('DEL', KEYS[1])
return f[1]
`)

// linkByTokenScript reads the token index and the link in one round trip.
//
// KEYS: token. ARGV: link key prefix. Result: read's answer, or nil.
var linkByTokenScript = goredis.NewScript(luaLink + `
local id = redis.call('GET', KEYS[1])
if not id then return false end
return read(ARGV[1] .. id)
`)

// linkHistoryScript reads the token index, the link and the link's
// history summary in one round trip (Store.LinkAndHistoryByTokenHash).
//
// KEYS: token. ARGV: link key prefix, history key prefix. Result: nil, or
// {read's answer, {history entry, ...}}.
var linkHistoryScript = goredis.NewScript(luaLink + `
local id = redis.call('GET', KEYS[1])
if not id then return false end
local f = read(ARGV[1] .. id)
if not f then return false end
return {f, redis.call('LRANGE', ARGV[2] .. id, 0, -1)}
`)

// dueMailScript claims up to max due jobs, oldest first, by moving each
// one's score to the end of its lease. Index entries whose job is gone
// are dropped on the way.
//
// KEYS: queue. ARGV: now (ms), lease end (ms), max, mail key prefix.
// Result: id, attempt, payload, id, attempt, payload, ...
var dueMailScript = goredis.NewScript(`
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, id in ipairs(ids) do
  local f = redis.call('HMGET', ARGV[4] .. id, 'attempt', 'payload')
  if not f[1] then
    redis.call('ZREM', KEYS[1], id)
  else
    redis.call('ZADD', KEYS[1], ARGV[2], id)
    out[#out + 1] = id
    out[#out + 1] = f[1]
    out[#out + 1] = f[2]
  end
end
return out
`)

// finishMailScript records a sent email, a retry, a permanent failure or a
// cancel on the job and on its link's Delivery.
//
// KEYS: mail job, queue, link, webhook queue, recent list. ARGV: id, mode
// (sent, retry, failed, canceled: every mode but retry ends the job),
// delivery (for sent: the part before the attempts number), the part
// after it (sent only), attempt, next due (ms), then the outbox from
// ARGV[7], queued when the mail is given up (failed), never on a cancel.
// Result: {0} when there is no job, else {1, jobs dropped}.
//
// NB: Redis does not undo a script's writes when a later command of it
// fails (a link key of another type, an ACL), so the job leaves the
// queue last: a script that fails on the link leaves the job as it was,
// due again when its lease ends, rather than out of the queue for good.
var finishMailScript = goredis.NewScript(luaLink + luaBuild + luaQueue + `
local a = redis.call('HGET', KEYS[1], 'attempt')
if not a then return {0} end
local d = ARGV[3]
if ARGV[2] == 'sent' then d = ARGV[3] .. tostring(tonumber(a) + 1) .. ARGV[4] end
if redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('HSET', KEYS[3], 'delivery', d)
  build(KEYS[3])
end
local dropped = 0
if ARGV[2] == 'retry' then
  redis.call('HSET', KEYS[1], 'attempt', ARGV[5])
  redis.call('ZADD', KEYS[2], ARGV[6], ARGV[1])
else
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('DEL', KEYS[1])
  if ARGV[2] == 'failed' then dropped = queue(KEYS[4], KEYS[5], 7, 1) end
end
return {1, dropped}
`)

// visitsScript records visits, each in its link's ring of views or of
// decisions (the newest max are kept), appends each one's entry to its
// link's history summary (the newest hmax are kept), and lets them
// expire with the link. One call records a chunk of the visit writer's
// batch, grouped by link in the order they came: one ZADD, RPUSH and trim
// a link, and one AOF write (and fsync) a chunk, not one per event-loop
// turn that reads a part of a pipeline.
//
// A ring or summary gets its expiry when it has none (a link's keys
// expire at a fixed time), so a link that has some is not given it
// again.
//
// KEYS: webhook queue, recent list, then per link: views ring, decisions
// ring, history, link. ARGV: kept views, kept decisions, hmax, then per
// link: n, fallback pxat (ms), n times {ring (v or d), score (ms), visit
// json, history entry json}, then the n visits' outboxes, each the
// number of values that follow (0 for a visit without jobs, most of
// them) and those values (Store.appendOutbox: the visit's event).
// Result: the jobs dropped by a full webhook queue.
var visitsScript = goredis.NewScript(luaQueue + luaRing + `
local kv, kd, hmax = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local i, k, dropped = 4, 3, 0
while i <= #ARGV do
  local n, at = tonumber(ARGV[i]), ARGV[i + 1]
  local views, decisions, h = {}, {}, {}
  local j = i + 2
  for _ = 1, n do
    local z = views
    if ARGV[j] == 'd' then z = decisions end
    z[#z + 1] = ARGV[j + 1]
    z[#z + 1] = ARGV[j + 2]
    h[#h + 1] = ARGV[j + 3]
    j = j + 4
  end
  add(KEYS[k], views, kv, KEYS[k + 3], at)
  add(KEYS[k + 1], decisions, kd, KEYS[k + 3], at)
  if redis.call('RPUSH', KEYS[k + 2], unpack(h)) > hmax then
    redis.call('LTRIM', KEYS[k + 2], -hmax, -1)
  end
  expire(KEYS[k + 2], KEYS[k + 3], at)
  for _ = 1, n do
    local m = tonumber(ARGV[j])
    if m > 0 then dropped = dropped + queue(KEYS[1], KEYS[2], j + 1, 1) end
    j = j + 1 + m
  end
  i = j
  k = k + 4
end
return dropped
`)

// allScripts are loaded at Open, so that pipelined EVALSHA (the visit
// writer) finds them.
var allScripts = []*goredis.Script{createScript, consumeScript, revokeScript, codeScript,
	takeHandoffScript, linkByTokenScript, linkHistoryScript, dueMailScript, finishMailScript, visitsScript}
