"""Errors of the chain package: bad RPC data, failed contract calls, missing addresses."""

from __future__ import annotations

from ponos.errors import PonosError


class ChainError(PonosError):
    """A chain read or write failed or returned data that cannot be used."""


class MalformedLogError(ChainError):
    """A log does not have the shape of the event it claims to be."""


class ContractCallError(ChainError):
    """An eth_call to a contract reverted or returned undecodable data."""


class MissingContractError(ChainError):
    """The configuration has no address for a contract the service needs."""
