"""Panorama core: settings, errors, the local stack and the `cdp` command line."""

__version__ = "0.1.0"
