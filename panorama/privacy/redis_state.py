"""Erasing a customer from Redis: live profile, identity graph, and the bytes on disk.

The profile store's layout is in ``streams/store.py``; a customer's state is every key
named after one of its identity nodes (partials, root pointers, members, labels, decision
logs, recorded links, and whatever per-node keys the streams stage adds later). Keys are
found by name with one SCAN of the namespace, so a new per-node key cannot be missed. The
node is also taken out of what names it elsewhere: the links recorded on their other end,
other nodes' block sets, operator unmerge records and segment member sets; what is left
(another customer's decision log) holds keyed hashes only.

Deleting a key does not remove its bytes from the append-only file: :func:`compact`
rewrites the AOF (and the RDB snapshot when one is configured), which is what makes a
deleted label or trait unrecoverable from the disk.
"""

from __future__ import annotations

import time

import orjson
from redis import Redis

from panorama.privacy.errors import PrivacyError
from streams.segments.store import forget_memberships
from streams.store import ProfileStore


def erase_customer(store: ProfileStore, customer_id: str, members: list[str]) -> int:
    """Delete every key of ``customer_id`` and its ``members`` nodes; returns keys deleted."""
    nodes = sorted(set(members) | {customer_id})
    hashes = tuple(node.rsplit(":", 1)[1] for node in nodes)
    keys = store.keys
    doomed = {name for node in nodes for name in (keys.partial(node), keys.root(node), keys.label(node),
                                                  keys.log(node), keys.members(node))}
    privacy_prefix = f"{keys.ns}:privacy:".encode()
    for key in store.redis.scan_iter(match=f"{keys.ns}:*", count=2000):
        if not key.startswith(privacy_prefix) and any(h.encode() in key for h in hashes):
            doomed.add(key.decode())
    other_ends = {other.decode() for node in nodes for other in store.redis.hkeys(keys.candidates(node))} - set(nodes)
    deleted = 0
    doomed_list = sorted(doomed)
    for i in range(0, len(doomed_list), 500):
        deleted += store.redis.delete(*doomed_list[i:i + 500])
    for other in sorted(other_ends):  # the links recorded on the other end name the erased node
        store.redis.hdel(keys.candidates(other), *nodes)
    _forget_operator_decisions(store, set(nodes))
    forget_memberships(store.redis, keys.ns, nodes)
    return deleted


def _forget_operator_decisions(store: ProfileStore, nodes: set[str]) -> None:
    """Unmerges an operator made outside the customer's own keys: its nodes leave other
    nodes' block sets, and the unmerge records naming them anywhere (the pair, the sides,
    the components; with the operator's free-text reason) are dropped."""
    keys = store.keys
    for block in store.redis.scan_iter(match=keys.block("*"), count=2000):
        store.redis.srem(block, *nodes)
    for raw in store.redis.lrange(keys.unmerges, 0, -1):
        if nodes & _named(orjson.loads(raw)):
            store.redis.lrem(keys.unmerges, 0, raw)


def _named(value: object) -> set[str]:
    """Every string inside ``value``'s lists (an unmerge record's node lists, nested)."""
    if isinstance(value, dict):
        return set().union(*(_named(v) for v in value.values() if isinstance(v, list)))
    if isinstance(value, list):
        return set().union(*(_named(v) if isinstance(v, list) else {v} if isinstance(v, str) else set() for v in value))
    return set()


def compact(redis: Redis, timeout: float = 120.0) -> list[str]:
    """Rewrite the AOF (and save the RDB snapshot if snapshots are on) so deleted values
    leave the disk; returns what was rewritten. Raises PrivacyError on timeout."""
    done = []
    if redis.config_get("appendonly").get("appendonly") == "yes":
        _wait_idle(redis, "aof_rewrite_in_progress", "aof_rewrite_scheduled", timeout)
        redis.bgrewriteaof()
        _wait_idle(redis, "aof_rewrite_in_progress", "aof_rewrite_scheduled", timeout, started=True)
        done.append("aof")
    if redis.config_get("save").get("save"):
        _wait_idle(redis, "rdb_bgsave_in_progress", None, timeout)
        redis.bgsave()
        _wait_idle(redis, "rdb_bgsave_in_progress", None, timeout, started=True)
        done.append("rdb")
    return done


def _wait_idle(redis: Redis, running: str, scheduled: str | None, timeout: float, started: bool = False) -> None:
    deadline = time.monotonic() + timeout
    time.sleep(0.05 if started else 0)
    while True:
        info = redis.info("persistence")
        if not info.get(running) and not (scheduled and info.get(scheduled)):
            return
        if time.monotonic() > deadline:
            raise PrivacyError(f"Redis still busy ({running}) after {timeout:.0f} s; deleted data may remain "
                               "on its disk until the next rewrite: run `redis-cli BGREWRITEAOF`")
        time.sleep(0.05)
