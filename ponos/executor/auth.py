"""Who may call the management RPCs (DeployArtifact, RemovePerformer).

With `authentication.enabled`, a caller first asks GetChallengeToken for its operator address,
then signs the token with the operator's signing key; a token is single-use and expires after
five minutes (as the newer Ponos). Without authentication, only loopback clients are accepted
unless `management.allowRemote` opens the RPCs to everyone. ListPerformers is always readable.
"""

from __future__ import annotations

import ipaddress
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from eth_utils import keccak

from ponos.executor.errors import PermissionDenied, Unauthenticated

TOKEN_TTL = 300.0


def is_loopback_peer(peer: str) -> bool:
    """grpc peer strings: 'ipv4:127.0.0.1:5000', 'ipv6:[::1]:5000', 'unix:/path'."""
    if peer.startswith("unix:"):
        return True
    kind, _, rest = peer.partition(":")
    if kind == "ipv4":
        host = rest.rsplit(":", 1)[0]
    elif kind == "ipv6":
        host = rest.rsplit(":", 1)[0].strip("[]")
    else:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def token_digest(token: str) -> bytes:
    """What a caller signs: keccak(keccak(utf8(token))), the Go SignMessage(keccak(token))."""
    return keccak(keccak(token.encode()))


@dataclass
class ChallengeTokens:
    """Single-use tokens with expiry; `clock` is injectable for tests."""

    ttl: float = TOKEN_TTL
    clock: Callable[[], float] = time.time
    _tokens: dict[str, float] = field(default_factory=dict)

    def issue(self) -> tuple[str, int]:
        self._sweep()
        token = keccak(secrets.token_bytes(32)).hex()
        expires = self.clock() + self.ttl
        self._tokens[token] = expires
        return token, int(expires)

    def consume(self, token: str) -> None:
        """Marks the token used before any signature check, so a token never works twice."""
        expires = self._tokens.pop(token, None)
        if expires is None:
            raise Unauthenticated("challenge token is unknown or already used")
        if self.clock() > expires:
            raise Unauthenticated("challenge token has expired")

    def _sweep(self) -> None:
        now = self.clock()
        for token, expires in list(self._tokens.items()):
            if expires < now:
                del self._tokens[token]


class ManagementAuth:
    """Decides whether a management call may proceed."""

    def __init__(
        self,
        *,
        enabled: bool,
        allow_remote: bool,
        operator_address: str,
        verify_signature: Callable[[bytes, bytes], bool] | None = None,
        tokens: ChallengeTokens | None = None,
    ) -> None:
        self.enabled = enabled
        self.allow_remote = allow_remote
        self.operator_address = operator_address.lower()
        self._verify = verify_signature
        self.tokens = tokens or ChallengeTokens()

    def issue_token(self, operator_address: str) -> tuple[str, int]:
        if operator_address.lower() != self.operator_address:
            raise PermissionDenied("operator_address is not this executor's operator")
        return self.tokens.issue()

    def check(self, peer: str, auth) -> None:
        """Raise Unauthenticated/PermissionDenied unless the call may change state."""
        if not self.enabled:
            if self.allow_remote or is_loopback_peer(peer):
                return
            raise PermissionDenied(
                "management RPCs are accepted from loopback clients only "
                "(enable authentication or set management.allowRemote)"
            )
        if auth is None or not auth.challenge_token:
            raise Unauthenticated("authentication required: call GetChallengeToken and sign it")
        self.tokens.consume(auth.challenge_token)
        if self._verify is None or not self._verify(
            token_digest(auth.challenge_token), auth.signature
        ):
            raise Unauthenticated("invalid signature")
