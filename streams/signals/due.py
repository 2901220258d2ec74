"""The due set of a partition (``{ns}:sig:due:{p}``): which nodes and customers need their
signals evaluated, and when. Both writers (a batch commit touching nodes, a sweep setting
a customer's next timer) go through these two Lua functions so neither loses the other's
update:

* ``touch(key, member, at)``: due at ``at``, or earlier if it already was; a member that
  was already due gets its score moved one microsecond earlier, so a sweep that read it
  before this touch sees a different score and does not settle it away (no lost wake-up,
  and a busy customer is never postponed).
* ``settle(key, member, expected, next)``: a sweep is done with ``member``, whose score it
  read as ``expected`` ('' when it was absent). If nobody touched it since, set it to
  ``next`` (remove it for -1); if somebody did, keep the earlier of the two.
"""

from __future__ import annotations

import zlib


def owner(customer_id: str, partitions: int) -> int:
    """The partition whose owner evaluates ``customer_id``'s signals (and publishes
    records about it that no partition's batch produced, such as unmerges)."""
    return zlib.crc32(customer_id.encode()) % partitions

TOUCH_LUA = """
local function touch(key, member, at)
  local cur = redis.call('ZSCORE', key, member)
  if not cur or tonumber(cur) > at then redis.call('ZADD', key, at, member)
  else redis.call('ZADD', key, tonumber(cur) - 1, member) end
end
"""

SETTLE_LUA = TOUCH_LUA + """
local function settle(key, member, expected, nxt)
  local cur = redis.call('ZSCORE', key, member)
  if (not cur and expected == '') or (cur and expected ~= '' and tonumber(cur) == tonumber(expected)) then
    if nxt < 0 then redis.call('ZREM', key, member) else redis.call('ZADD', key, nxt, member) end
  elseif not cur then
    if nxt >= 0 then redis.call('ZADD', key, nxt, member) end
  elseif nxt >= 0 and nxt < tonumber(cur) then
    redis.call('ZADD', key, nxt, member)
  end
end
-- KEYS[1]: this partition's due set; ARGV: now, then (member, expected, next) triples;
-- KEYS[2..]: due sets of other partitions (repeated as needed), each matched by a member
-- to touch at now in ARGV[3 + 3 * n] onwards
local now, n = tonumber(ARGV[1]), tonumber(ARGV[2])
for i = 0, n - 1 do
  settle(KEYS[1], ARGV[3 + 3 * i], ARGV[4 + 3 * i], tonumber(ARGV[5 + 3 * i]))
end
for j = 2, #KEYS do touch(KEYS[j], ARGV[1 + 3 * n + j], now) end
return n
"""
