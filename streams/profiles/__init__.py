"""Live 360° profiles: the fold (pure), its storage form, and reads."""

from streams.profiles.fold import Partial, apply, fold, merge
from streams.profiles.read import ProfileReader, read_profile
from streams.profiles.view import profile_view

__all__ = ["Partial", "ProfileReader", "apply", "fold", "merge", "profile_view", "read_profile"]
