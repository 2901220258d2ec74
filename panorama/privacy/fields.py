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
    return _transform(record, tree or pii_tree(), "", lambda value, path: _seal_all(value, path, key))


KeyLookup = Callable[[str], DataKey | None]


def open_record(record: dict, lookup: KeyLookup, tree: Tree | None = None) -> tuple[dict, bool]:
    """(``record`` with every sealed personal value opened, whether anything was shredded):
    a value whose data key is gone (forgotten) becomes None. Raises
    :class:`CiphertextError` naming the field for a tampered or unreadable value."""
    shredded = []

    def leaf(value: Any, path: str) -> Any:
        opened, gone = _open_all(value, path, lookup)
        if gone:
            shredded.append(path)
        return opened

    return _transform(record, tree or pii_tree(), "", leaf), bool(shredded)


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


def _open_all(value: Any, path: str, lookup: KeyLookup) -> tuple[Any, bool]:
    if isinstance(value, str):
        if not is_sealed(value):
            return value, False  # written before encryption, or by a producer without it
        sealed = parse(value, path)
        key = lookup(sealed.subject)
        if key is None or key.kid != sealed.kid:
            return None, True
        return unseal(key, sealed, path), False
    if isinstance(value, dict):
        opened = {k: _open_all(v, f"{path}.{k}", lookup) for k, v in value.items()}
        return {k: v for k, (v, _) in opened.items()}, any(g for _, g in opened.values())
    if isinstance(value, list):
        opened_list = [_open_all(v, path, lookup) for v in value]
        return [v for v, _ in opened_list], any(g for _, g in opened_list)
    return value, False
