"""Ponos-py: the Hourglass aggregator and executor services in Python."""

__version__ = "0.1.0"
