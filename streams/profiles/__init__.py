"""Live 360° profiles: the fold (pure), its storage form, and reads."""

from streams.profiles.fold import Partial, apply, fold, merge
from streams.profiles.view import profile_view

__all__ = ["Partial", "ProfileReader", "apply", "fold", "merge", "profile_view", "read_profile"]


def __getattr__(name: str):
    # the reader needs streams.store, which needs this package's codec: import it on first use
    if name in ("ProfileReader", "read_profile"):
        from streams.profiles import read

        return getattr(read, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
