"""Churn and lifecycle signals: pure rules over a profile, and the sweep that publishes changes."""
