// The Lua scripts of the bus, each run with EVAL on one key, so any of them runs on a Redis Cluster.

// The route scripts keep "first/last session" answers atomic with the writes, on the user's
// sessions hash alone (KEYS[1]), so they run on a Redis Cluster too. ARGV: session, node.
export const ADD_SESSION = `
local added = redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if added == 1 and redis.call('HLEN', KEYS[1]) == 1 then return 1 end
return 0`;

// A session recorded on another node (the client moved) is not this record's to remove.
export const REMOVE_SESSION = `
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('HLEN', KEYS[1]) == 0 then return 1 end
return 0`;

// Heartbeats use the Redis clock, so nodes with skewed clocks agree on who expired.
const REDIS_NOW_MS = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)`;

export const BEAT = `${REDIS_NOW_MS}
redis.call('ZADD', KEYS[1], string.format('%.0f', now + tonumber(ARGV[2])), ARGV[1])
return 1`;

export const EXPIRED = `${REDIS_NOW_MS}
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now))`;

// Whether a node's heartbeat has not expired yet (a node never seen, or forgotten, has none).
export const BEATING = `${REDIS_NOW_MS}
local expiry = redis.call('ZSCORE', KEYS[1], ARGV[1])
if expiry and tonumber(expiry) > now then return 1 end
return 0`;

// A pending idempotency key holds `pending:<message id>`, naming the send that claimed it; a
// bare `pending` is a claim made before claims named their message, anyone's to settle.
// Each script below takes the claim value of its caller's message (ARGV[1]).
const OWN_CLAIM = `
local current = redis.call('GET', KEYS[1])
local own = current == ARGV[1] or current == 'pending'`;

// A key gets its ack when it is the caller's claim or free (a claim that lapsed): never when
// it holds an ack already or another send's claim (this one lapsed and a retry took it),
// since what a client was answered with is never replaced. ARGV: claim, ack, seconds.
export const COMPLETE_IDEMPOTENCY = `${OWN_CLAIM}
if current and not own then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1`;

// Frees the caller's pending claim, never a completed key or another send's claim. ARGV: claim.
export const RELEASE_IDEMPOTENCY = `${OWN_CLAIM}
if own then return redis.call('DEL', KEYS[1]) end
return 0`;

// Pushes the caller's pending claim's lapse out; GT only ever lengthens it. ARGV: claim, seconds.
export const HOLD_IDEMPOTENCY = `${OWN_CLAIM}
if own then return redis.call('EXPIRE', KEYS[1], ARGV[2], 'GT') end
return 0`;

// Takes a key over for a message a dead node left unsettled: its own claim (held on), a free
// key (claimed now), or its own ack (it was stored and answered); 0 when another send
// claimed or answered it. ARGV: claim, seconds, message id.
export const ADOPT_IDEMPOTENCY = `${OWN_CLAIM}
if not current then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
  return 1
end
if own then
  redis.call('EXPIRE', KEYS[1], ARGV[2], 'GT')
  return 1
end
local parsed, ack = pcall(cjson.decode, current)
if parsed and type(ack) == 'table' and ack.id == ARGV[3] then return 1 end
return 0`;

// A clean-up claim is renewed or given back only by the caller holding it (its token in ARGV[1]).
export const RENEW_CLAIM = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1`;

export const RELEASE_CLAIM = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;
