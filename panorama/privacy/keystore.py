"""The key store: one AES-256-GCM data key per subject, wrapped by the master key, in Redis.

A *subject* is a keyed routing hash (``producers.keys.RoutingKeys.hash``): the Kafka
message key of an identity's events and the hash part of its identity node, never
plaintext. Layout (``{ns}`` is the topic prefix, like the profile store's):

=================================  ======================================================
``{ns}:privacy:dek:{subject}``     key id (4 B) | nonce (12 B) | AES-GCM(master, data key)
``{ns}:privacy:forgotten``         hash: subject -> ``<forgotten at, µs>`` while erased,
                                   ``<forgotten at>:lifted`` once consent was given again
``{ns}:privacy:epoch``             bumped by every forget and consent grant
=================================  ======================================================

Keys are created on first use by a script that refuses forgotten subjects and sets the
key only if absent (two processes racing get the same key: the loser reads the winner's).
Every process keeps the keys it used in an LRU, so sealing costs a dict lookup; the cache
and the verdicts on forgotten subjects are dropped when the epoch moves, which running
processes check every ``privacy_refresh_s`` (that is how long a forget takes to reach them).
"""

from __future__ import annotations

import base64
import os
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from redis import Redis, RedisError

from panorama.privacy.crypto import NONCE_SIZE, DataKey, new_key_material
from panorama.privacy.errors import PrivacyError
from panorama.settings import Settings
from schemas.identities import forget_parsed_phones

LIFTED = b":lifted"
PREPARE_CHUNK = 2000
# KEYS: forgotten hash, then one data-key key per subject. ARGV: n, the n subjects, the n
# candidate wrapped keys, then the extra subjects to check. Returns {stored wrapped key or
# false (forgotten), ...} and the forgotten-state of every subject checked.
_PREPARE = """
local n = tonumber(ARGV[1])
local checked = {}
for i = 2, n + 1 do table.insert(checked, ARGV[i]) end
for i = 2 * n + 2, #ARGV do table.insert(checked, ARGV[i]) end
local states = redis.call('HMGET', KEYS[1], unpack(checked))
local blocked = {}
for i, state in ipairs(states) do
  if state and not string.find(state, ':lifted', 1, true) then blocked[checked[i]] = true end
end
local keys = {}
for i = 1, n do
  if blocked[ARGV[i + 1]] then keys[i] = false
  else
    redis.call('SET', KEYS[i + 1], ARGV[n + 1 + i], 'NX')
    keys[i] = redis.call('GET', KEYS[i + 1])
  end
end
return {keys, states}
"""


def master_aead(settings: Settings) -> AESGCM:
    return AESGCM(base64.b64decode(settings.master_key.get_secret_value()))


def forgotten_key(namespace: str) -> str:
    """The forgotten list of ``namespace``: subject -> ``<at>`` while forgotten,
    ``<at>:lifted`` once consent came back. Readers outside this class (the segment sweep,
    activation) check it inside their own Redis pipelines."""
    return f"{namespace}:privacy:forgotten"


def is_forgotten(state: bytes | None) -> bool:
    """Whether a forgotten-list entry (HGET of :func:`forgotten_key`) means "forgotten now"."""
    return state is not None and not state.endswith(LIFTED)


class KeyStore:
    """Data keys and the forgotten list for one namespace. One per process and role;
    not thread-safe (like the producer that owns it)."""

    def __init__(self, redis: Redis, namespace: str, master: AESGCM, refresh_s: float = 1.0,
                 cache_size: int = 200_000):
        self.redis = redis
        self.ns = namespace
        self._master = master
        self._refresh_s = refresh_s
        self._cache_size = cache_size
        self._keys: OrderedDict[str, DataKey | None] = OrderedDict()  # None: no key (shredded)
        self._blocked: dict[str, bool] = {}  # subject -> forgotten and not lifted
        self._forgotten_at: dict[str, int | None] = {}  # subject -> when forgotten (reader side)
        self._epoch: bytes | None = None
        self.generation = 0  # bumped each time the caches are dropped
        self._next_check = 0.0
        self._prepare = redis.register_script(_PREPARE)
        try:
            self.refresh(force=True)  # learn the current epoch: later moves are forgets to act on
        except RedisError as e:
            raise PrivacyError(f"the key store (Redis) did not answer: {e}. Personal fields can be neither "
                               "sealed nor opened without it; is Redis up? (`cdp status`, CDP_REDIS_URL)") from e

    @classmethod
    def from_settings(cls, settings: Settings, redis: Redis | None = None) -> KeyStore:
        redis = redis or Redis.from_url(settings.redis_address, socket_timeout=settings.privacy_redis_timeout_s,
                                        socket_connect_timeout=settings.privacy_redis_timeout_s)
        return cls(redis, settings.topic_prefix, master_aead(settings), settings.privacy_refresh_s)

    # -- Redis keys ----------------------------------------------------------------------

    def dek_key(self, subject: str) -> str:
        return f"{self.ns}:privacy:dek:{subject}"

    @property
    def forgotten_key(self) -> str:
        return forgotten_key(self.ns)

    @property
    def epoch_key(self) -> str:
        return f"{self.ns}:privacy:epoch"

    # -- cache freshness -----------------------------------------------------------------

    def refresh_due(self) -> bool:
        """Whether the next :meth:`refresh` looks at Redis."""
        return time.monotonic() >= self._next_check

    def refresh(self, force: bool = False) -> bool:
        """Drop every cached key and verdict if a forget or grant happened since the last
        look (looks at most every ``refresh_s`` unless ``force``). True when dropped."""
        now = time.monotonic()
        if not force and now < self._next_check:
            return False
        self._next_check = now + self._refresh_s
        epoch = self.redis.get(self.epoch_key)
        if epoch == self._epoch:
            return False
        self._epoch = epoch
        self._drop_caches()
        return True

    def _drop_caches(self) -> None:
        forget_parsed_phones()  # a forgotten customer's number may be among them
        self._keys.clear()
        self._blocked.clear()
        self._forgotten_at.clear()
        self.generation += 1

    # -- writers: keys for sealing ---------------------------------------------------------

    def cached_key(self, subject: str) -> DataKey | None:
        """The cached data key of ``subject``, or None when it must be fetched."""
        key = self._keys.get(subject)
        if key is not None:
            self._keys.move_to_end(subject)
        return key

    def blocked(self, subject: str) -> bool | None:
        """Whether ``subject`` is forgotten (writes refused); None when not known yet."""
        return self._blocked.get(subject)

    def prepare(self, routing: Iterable[str], others: Iterable[str] = ()) -> set[str]:
        """Fetch or create the data keys of ``routing`` subjects and learn whether they and
        ``others`` are forgotten, in one round trip. Returns the forgotten subjects (no key
        is created for those)."""
        self.refresh()
        routing = [s for s in dict.fromkeys(routing) if self.cached_key(s) is None]
        fetched = set(routing)  # not the list: a chunk's others are checked against it one by one
        others = [s for s in dict.fromkeys(others) if s not in self._blocked and s not in fetched]
        if not routing and not others:
            return set()
        if len(routing) + len(others) > PREPARE_CHUNK:  # Lua's unpack() has a stack limit
            half = PREPARE_CHUNK // 2  # each chunk holds at most half of each list: always smaller
            return set().union(*(self.prepare(routing[i:i + half], others[i:i + half])
                                  for i in range(0, max(len(routing), len(others)), half)))
        materials = [new_key_material() for _ in routing]
        candidates = [self._wrap(subject, kid, material) for subject, (kid, material) in zip(routing, materials)]
        wrapped, states = self._prepare(
            keys=[self.forgotten_key, *(self.dek_key(s) for s in routing)],
            args=[len(routing), *routing, *candidates, *others])
        forgotten = set()
        for subject, state in zip(routing + others, states):
            self._blocked[subject] = blocked = state is not None and not state.endswith(LIFTED)
            if blocked:
                forgotten.add(subject)
        for subject, blob, candidate, (kid, material) in zip(routing, wrapped, candidates, materials):
            if blob == candidate:  # ours was set: no need to decrypt what was just encrypted
                self._remember(subject, DataKey(subject, kid, AESGCM(material)))
            elif blob:  # another process's key won the race, or the key existed
                self._remember(subject, self._unwrap(subject, blob))
        return forgotten

    # -- readers: keys for opening -----------------------------------------------------------

    def load_existing(self, subjects: Iterable[str]) -> None:
        """Cache the data keys of ``subjects`` that exist (one MGET), never creating one."""
        missing = [s for s in dict.fromkeys(subjects) if s not in self._keys]
        if missing:
            for subject, blob in zip(missing, self.redis.mget([self.dek_key(s) for s in missing])):
                self._remember(subject, None if blob is None else self._unwrap(subject, blob))

    def existing_key(self, subject: str) -> DataKey | None:
        """The data key of ``subject`` for opening; None when a forget deleted it.

        A subject cached without a key is read again before it is declared shredded: after
        a forget, a consent grant creates a new key, and events sealed with it may arrive
        before this process's next refresh; they must be opened, not dropped. Only
        events of forgotten customers pay the extra read."""
        if self._keys.get(subject) is None:
            self._keys.pop(subject, None)
            self.load_existing([subject])
        return self._keys.get(subject)

    def forgotten_at(self, subjects: Iterable[str]) -> dict[str, int | None]:
        """When each subject was forgotten (µs since the epoch), None if never; events of a
        subject received up to that moment stay erased even after consent is given again."""
        missing = [s for s in dict.fromkeys(subjects) if s not in self._forgotten_at]
        if missing:
            if len(self._forgotten_at) > self._cache_size:
                self._forgotten_at.clear()
            for subject, state in zip(missing, self.redis.hmget(self.forgotten_key, missing)):
                self._forgotten_at[subject] = None if state is None else int(state.split(b":")[0])
        return self._forgotten_at

    # -- forget and consent ----------------------------------------------------------------

    def forget(self, subjects: Sequence[str], at_us: int) -> int:
        """Mark ``subjects`` forgotten and delete their data keys; returns keys deleted."""
        if not subjects:
            return 0
        with self.redis.pipeline() as pipe:
            pipe.hset(self.forgotten_key, mapping={s: str(at_us) for s in subjects})
            pipe.delete(*(self.dek_key(s) for s in subjects))
            pipe.incr(self.epoch_key)
            deleted = pipe.execute()[1]
        self.refresh(force=True)
        return deleted

    def lift(self, subjects: Iterable[str]) -> list[str]:
        """Consent given again: ``subjects`` may be written again (new data keys; their old
        events stay erased). Returns the subjects that were blocked."""
        subjects = list(dict.fromkeys(subjects))
        states = self.redis.hmget(self.forgotten_key, subjects) if subjects else []
        lifted = {s: state + LIFTED for s, state in zip(subjects, states) if state and not state.endswith(LIFTED)}
        if lifted:
            with self.redis.pipeline() as pipe:
                pipe.hset(self.forgotten_key, mapping=lifted)
                pipe.incr(self.epoch_key)
                pipe.execute()
            self.refresh(force=True)
        return list(lifted)

    # -- wrapping ----------------------------------------------------------------------------

    def _wrap(self, subject: str, kid: str, material: bytes) -> bytes:
        nonce = os.urandom(NONCE_SIZE)
        return bytes.fromhex(kid) + nonce + self._master.encrypt(nonce, material, f"dek:{subject}:{kid}".encode())

    def _unwrap(self, subject: str, blob: bytes) -> DataKey:
        kid, nonce, wrapped = blob[:4].hex(), blob[4:4 + NONCE_SIZE], blob[4 + NONCE_SIZE:]
        try:
            material = self._master.decrypt(nonce, wrapped, f"dek:{subject}:{kid}".encode())
        except InvalidTag:
            raise PrivacyError(f"the data key of subject {subject} does not open with CDP_MASTER_KEY: "
                               "the master key changed, or the key store was tampered with") from None
        return DataKey(subject, kid, AESGCM(material))

    def _remember(self, subject: str, key: DataKey | None) -> None:
        self._keys[subject] = key
        self._keys.move_to_end(subject)
        if len(self._keys) > self._cache_size:
            self._keys.popitem(last=False)
