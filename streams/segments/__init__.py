"""Live segments: the rule language, definitions and membership in Redis, evaluation in the
sweep, activation with consent."""

# streams.profiles and streams.signals.rules import each other: entering through the
# profiles package first is the order that works, whoever imports a segments module first.
import streams.profiles  # noqa: F401
