// The Lua scripts of the bus, each run with EVAL (single-key or on a standalone Redis).

// The route scripts keep "first/last session" answers atomic with the writes. KEYS:
// the user's sessions hash and the node's session index; ARGV: session, node, index member.
export const ADD_SESSION = `
local added = redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
if added == 1 and redis.call('HLEN', KEYS[1]) == 1 then return 1 end
return 0`;

// A session recorded on another node (the client moved) is not this record's to remove.
export const REMOVE_SESSION = `
redis.call('SREM', KEYS[2], ARGV[3])
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('HLEN', KEYS[1]) == 0 then return 1 end
return 0`;

// KEYS: the node's session index and group index; ARGV: prefix, node. The users' hashes and
// the group sets are only known once the indexes are read, so their names are built here:
// this needs a standalone Redis, not Redis Cluster.
export const REMOVE_NODE = `
local offline = {}
for _, member in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local record = cjson.decode(member)
  local sessions = ARGV[1] .. 'sessions:' .. record[1]
  if redis.call('HGET', sessions, record[2]) == ARGV[2] then
    redis.call('HDEL', sessions, record[2])
    if redis.call('HLEN', sessions) == 0 then table.insert(offline, record[1]) end
  end
end
redis.call('DEL', KEYS[1])
for _, group in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  redis.call('SREM', ARGV[1] .. 'group-nodes:' .. group, ARGV[2])
end
redis.call('DEL', KEYS[2])
return offline`;

// Heartbeats use the Redis clock, so nodes with skewed clocks agree on who expired.
const REDIS_NOW_MS = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)`;

export const BEAT = `${REDIS_NOW_MS}
redis.call('ZADD', KEYS[1], string.format('%.0f', now + tonumber(ARGV[2])), ARGV[1])
return 1`;

export const EXPIRED = `${REDIS_NOW_MS}
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now))`;
