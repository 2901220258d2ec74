"""Sealing and opening the personal fields of an interaction record.

Which fields are personal is the contract's business: every path tagged ``"pii"`` in the
``.avsc`` (``schemas.contract.pii_fields``). Every string inside a tagged field is sealed
(a tagged record such as ``traits.address`` as a whole, each of its strings); other types
(numbers, booleans) cannot change type without changing the schema and are left alone.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from panorama.privacy.crypto import DataKey, is_sealed, parse, seal, unseal
from schemas.contract import pii_fields

LEAF: dict = {}  # marks a tagged path in the tree (identity-compared)
Tree = dict[str, Any]


@cache
def pii_tree() -> Tree:
    """The tagged paths as a nested dict: ``{"identities": {"email": LEAF, ...}, ...}``."""
    tree: Tree = {}
    for path, _kind in pii_fields():
        node = tree
        *parents, last = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if node is LEAF:
                break
        else:
            node[last] = LEAF
    return tree


def seal_record(record: dict, key: DataKey, tree: Tree | None = None) -> dict:
    """A copy of ``record`` with every personal string sealed under ``key``; the input is
    not changed (callers may send the same dict twice). Only the dicts on the way to a
    personal value are copied."""
    leaf = lambda value, path: _seal_all(value, path, key)  # noqa: E731
    return _transform(record, tree, "", leaf) if tree else _compiled()(record, leaf)


def memo_sealer(key: DataKey, size: int = 64) -> Callable[[dict], dict]:
    """:func:`seal_record` for one key that remembers the sealed form of its last ``size``
    values per field: a customer's e-mail in each of its events costs one AES operation,
    not one per event. The price: two events of one customer show whether a field's value
    is the same, which their common message key (a hash of the identity) mostly tells
    already. Drop it when the key may have been deleted (a forget)."""
    memo: dict[tuple[str, str], str] = {}
    walk = _compiled()

    def leaf(value: Any, path: str) -> Any:
        if type(value) is not str:
            return _seal_all(value, path, key)
        found = memo.get((path, value))
        if found is None:
            if len(memo) >= size:
                memo.clear()
            found = memo[path, value] = seal(key, value, path)
        return found

    return lambda record: walk(record, leaf)


KeyLookup = Callable[[str], DataKey | None]


def open_record(record: dict, lookup: KeyLookup, tree: Tree | None = None,
                memo: dict | None = None) -> tuple[dict, bool]:
    """(``record`` with every sealed personal value opened, whether anything was shredded):
    a value whose data key is gone (forgotten) becomes None. Raises
    :class:`CiphertextError` naming the field for a tampered or unreadable value.
    Changes ``record`` in place (consumers own what they decoded)."""
    return RecordOpener(lookup, memo, tree)(record)


class RecordOpener:
    """Opens records one after the other with one key lookup and one ``memo`` (sealed ->
    plaintext, owned by the caller and emptied on every forget: it skips the AES work for
    a sealed value already opened)."""

    def __init__(self, lookup: KeyLookup, memo: dict | None = None, tree: Tree | None = None):
        self._lookup, self._memo = lookup, memo
        self._walk = (lambda record, leaf: _transform(record, tree, "", leaf)) if tree else _compiled(in_place=True)
        self._shredded = False

    def __call__(self, record: dict) -> tuple[dict, bool]:
        self._shredded = False
        return self._walk(record, self._leaf), self._shredded

    def _leaf(self, value: Any, path: str) -> Any:
        if self._memo is not None and type(value) is str:  # the usual case, without the calls
            plain = self._memo.get((path, value))
            if plain is not None:
                return plain
        opened, gone = _open_all(value, path, self._lookup, self._memo)
        self._shredded |= gone
        return opened


@cache
def _compiled(in_place: bool = False) -> Callable[[dict, Callable[[Any, str], Any]], dict]:
    """:func:`_transform` over :func:`pii_tree` as straight-line code: the walk costs more
    than the AES itself when interpreted (a dict lookup per tagged path, no calls).
    ``in_place`` assigns into the record instead of copying the dicts on the way."""
    lines = ["def transform(record, leaf):", "    out = record"]
    own = "" if in_place else "        if out is record: out = dict(record)\n"
    for top, sub in pii_tree().items():
        lines.append(f"    v = record.get({top!r})")
        if sub is LEAF:
            lines += ["    if v is not None:", own.rstrip("\n") or "        pass", f"        out[{top!r}] = leaf(v, {top!r})"]
        elif all(child is LEAF for child in sub.values()):
            names = list(sub)
            lines += ["    if type(v) is dict:"]
            lines += [f"        a{i} = v.get({name!r})" for i, name in enumerate(names)]
            lines += ["        if " + " or ".join(f"a{i} is not None" for i in range(len(names))) + ":",
                      "            pass" if in_place else "            v = dict(v)"]
            for i, name in enumerate(names):
                lines.append(f"            if a{i} is not None: v[{name!r}] = leaf(a{i}, {top + '.' + name!r})")
            if not in_place:
                lines += ["            if out is record: out = dict(record)", f"            out[{top!r}] = v"]
        else:  # deeper paths: the interpreted walk
            lines += ["    if v is not None:", f"        new = _transform({{{top!r}: v}}, {{{top!r}: sub_{top}}}, '', leaf)[{top!r}]",
                      "        if new is not v:", own.replace("        ", "            ").rstrip("\n") or "            pass",
                      f"            out[{top!r}] = new"]
    lines.append("    return out")
    namespace: dict[str, Any] = {"_transform": _transform} | {f"sub_{top}": sub for top, sub in pii_tree().items()}
    exec("\n".join(lines), namespace)  # noqa: S102 - code built above from the schema's field names
    return namespace["transform"]


def _transform(value: dict, tree: Tree, prefix: str, leaf: Callable[[Any, str], Any]) -> dict:
    """``value`` with ``leaf(found, path)`` applied to every tagged field present; copies
    only the dicts on the way to a changed value."""
    out = None
    for name, sub in tree.items():
        found = value.get(name)
        if found is None:
            continue
        if sub is LEAF:
            new = leaf(found, prefix + name)
        elif isinstance(found, dict):
            new = _transform(found, sub, f"{prefix}{name}.", leaf)
        elif isinstance(found, list):
            new = [_transform(v, sub, f"{prefix}{name}.", leaf) if isinstance(v, dict) else v for v in found]
        else:
            continue
        if new is not found:
            if out is None:
                out = dict(value)
            out[name] = new
    return value if out is None else out


def _seal_all(value: Any, path: str, key: DataKey) -> Any:
    if isinstance(value, str):
        return seal(key, value, path)
    if isinstance(value, dict):
        return {k: _seal_all(v, f"{path}.{k}", key) for k, v in value.items()}
    if isinstance(value, list):
        return [_seal_all(v, path, key) for v in value]
    return value


def _open_all(value: Any, path: str, lookup: KeyLookup, memo: dict | None) -> tuple[Any, bool]:
    if isinstance(value, str):
        if not is_sealed(value):
            return value, False  # written before encryption, or by a producer without it
        if memo is not None and (plain := memo.get((path, value))) is not None:
            return plain, False
        sealed = parse(value, path)
        key = lookup(sealed.subject)
        if key is None or key.kid != sealed.kid:
            return None, True
        plain = unseal(key, sealed, path)
        if memo is not None:
            memo[path, value] = plain
        return plain, False
    if isinstance(value, dict):
        opened = {k: _open_all(v, f"{path}.{k}", lookup, memo) for k, v in value.items()}
        return {k: v for k, (v, _) in opened.items()}, any(g for _, g in opened.values())
    if isinstance(value, list):
        opened_list = [_open_all(v, path, lookup, memo) for v in value]
        return [v for v, _ in opened_list], any(g for _, g in opened_list)
    return value, False
