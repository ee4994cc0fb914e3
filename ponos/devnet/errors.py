"""Errors of the devnet package."""

from __future__ import annotations

from ponos.errors import PonosError


class DevnetError(PonosError):
    """The devnet could not be started, deployed, found or used."""


class DeploymentError(DevnetError):
    """A deployment transaction failed or the contracts are missing."""
