"""Live segments: the rule language, definitions and membership in Redis, evaluation in the sweep, activation."""
