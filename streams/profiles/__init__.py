"""Live 360° profiles: the fold (pure), its storage form, and reads."""

from streams.profiles.fold import Partial, apply, fold, merge

__all__ = ["Partial", "ProfileReader", "apply", "fold", "merge", "profile_view", "read_profile"]
_ON_FIRST_USE = {"ProfileReader": "read", "read_profile": "read", "profile_view": "view"}


def __getattr__(name: str):
    # imported on first use: the reader needs streams.store, which needs this package's codec,
    # and the view needs streams.signals.rules, which needs the fold
    if name in _ON_FIRST_USE:
        from importlib import import_module

        return getattr(import_module(f"streams.profiles.{_ON_FIRST_USE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
