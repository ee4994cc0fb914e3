"""Who may change performers: challenge-token authentication when enabled, loopback clients
only otherwise (unless opened in config); ListPerformers stays readable for everyone; a
refused call changes nothing."""

from __future__ import annotations

import fcntl
import socket
import struct

import grpc
import pytest

from ponos.crypto.ecdsa import EcdsaPrivateKey
from ponos.crypto.signer import EcdsaSigner
from ponos.executor.auth import ChallengeTokens, ManagementAuth, is_loopback_peer, token_digest
from ponos.executor.errors import PermissionDenied, Unauthenticated
from ponos.pb import executor_pb2
from tests.executor.harness import (
    ExecutorClient,
    config_data,
    load,
    rpc_error,
    running_executor,
    signer_for,
)
from tests.executor.test_management import artifact, deploy_request

OPERATOR = "0x" + "0a" * 20


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("peer", "loopback"),
    [
        ("ipv4:127.0.0.1:5000", True),
        ("ipv4:127.0.0.2:5000", True),
        ("ipv6:[::1]:5000", True),
        ("ipv6:[::ffff:127.0.0.1]:5000", True),
        ("unix:/run/ponos.sock", True),
        ("ipv4:192.0.2.2:5000", False),
        ("ipv6:[2001:db8::1]:5000", False),
        ("ipv6:[::ffff:10.0.0.1]:5000", False),
        ("weird", False),
    ],
)
def test_loopback_peers_are_recognised_from_grpc_peer_strings(peer, loopback):
    assert is_loopback_peer(peer) is loopback


def test_without_authentication_only_loopback_may_manage_unless_opened():
    closed = ManagementAuth(enabled=False, allow_remote=False, operator_address=OPERATOR)
    closed.check("ipv4:127.0.0.1:40000", None)
    with pytest.raises(PermissionDenied, match="loopback"):
        closed.check("ipv4:192.0.2.2:40000", None)
    opened = ManagementAuth(enabled=False, allow_remote=True, operator_address=OPERATOR)
    opened.check("ipv4:192.0.2.2:40000", None)


def test_challenge_tokens_are_single_use_expire_and_need_the_operator_signature():
    key = EcdsaPrivateKey.from_hex("0x" + "11" * 32)
    signer = EcdsaSigner(key)
    clock = Clock()

    def verify(digest: bytes, signature: bytes) -> bool:
        from ponos.crypto.errors import CryptoError
        from ponos.crypto.signer import verify_ecdsa

        try:
            verify_ecdsa(digest, signature, key.address)
            return True
        except CryptoError:
            return False

    auth = ManagementAuth(
        enabled=True,
        allow_remote=False,
        operator_address=OPERATOR,
        verify_signature=verify,
        tokens=ChallengeTokens(ttl=300, clock=clock),
    )

    def signed(token: str, by: EcdsaSigner = signer) -> executor_pb2.AuthSignature:
        return executor_pb2.AuthSignature(
            challenge_token=token, signature=by.sign_digest(token_digest(token))
        )

    with pytest.raises(PermissionDenied):
        auth.issue_token("0x" + "0b" * 20)
    token, expires = auth.issue_token(OPERATOR.upper().replace("0X", "0x"))
    assert expires == 1300 and len(token) == 64
    auth.check("ipv4:192.0.2.2:1", signed(token))  # remote is fine once authenticated
    with pytest.raises(Unauthenticated, match="already used"):
        auth.check("ipv4:127.0.0.1:1", signed(token))
    with pytest.raises(Unauthenticated, match="authentication required"):
        auth.check("ipv4:127.0.0.1:1", None)  # loopback is not enough when enabled
    stranger = EcdsaSigner(EcdsaPrivateKey.from_hex("0x" + "22" * 32))
    token, _ = auth.issue_token(OPERATOR)
    with pytest.raises(Unauthenticated, match="invalid signature"):
        auth.check("ipv4:127.0.0.1:1", signed(token, stranger))
    with pytest.raises(Unauthenticated, match="already used"):  # a failed try burns the token
        auth.check("ipv4:127.0.0.1:1", signed(token))
    token, _ = auth.issue_token(OPERATOR)
    clock.now += 301
    with pytest.raises(Unauthenticated, match="expired"):
        auth.check("ipv4:127.0.0.1:1", signed(token))


def non_loopback_address() -> str | None:
    """An IPv4 address of a non-loopback interface of this machine, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _index, name in socket.if_nameindex():
            try:
                packed = fcntl.ioctl(
                    sock.fileno(), 0x8915, struct.pack("256s", name.encode()[:15])
                )  # SIOCGIFADDR
            except OSError:
                continue
            address = socket.inet_ntoa(packed[20:24])
            if not address.startswith("127."):
                return address
    return None


async def test_remote_clients_may_list_but_not_change_performers_without_authentication(
    devnet, tmp_path
):
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to connect from")
    url, digest = artifact(tmp_path / "perf.py")
    config = load(config_data(devnet, tmp_path, grpcHost="0.0.0.0"), tmp_path)
    async with running_executor(config) as (service, local):
        remote = ExecutorClient(f"{address}:{service.server.port}")
        try:
            [performer] = await remote.performers()
            remove = await rpc_error(
                remote.executor.RemovePerformer(
                    executor_pb2.RemovePerformerRequest(performer_id=performer.performer_id),
                    timeout=10,
                )
            )
            deploy = await rpc_error(
                remote.management.DeployArtifact(
                    deploy_request(devnet.deployment.avs, url, digest), timeout=30
                )
            )
            token = await rpc_error(
                remote.management.GetChallengeToken(
                    executor_pb2.GetChallengeTokenRequest(
                        operator_address=devnet.deployment.executors[0].address
                    ),
                    timeout=10,
                )
            )
        finally:
            await remote.close()
        [still] = await local.performers()
        deployments = service.store.list_deployments()
        # The same call from loopback is accepted.
        await local.executor.RemovePerformer(
            executor_pb2.RemovePerformerRequest(performer_id=performer.performer_id), timeout=30
        )
    for error in (remove, deploy):
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "loopback" in error.details()
    assert token.code() == grpc.StatusCode.UNIMPLEMENTED
    assert still.performer_id == performer.performer_id and still.status == "InService"
    assert deployments == []


async def test_with_authentication_a_signed_challenge_token_is_required_to_manage(devnet, tmp_path):
    d = devnet.deployment
    operator = d.executors[0]
    own_key = signer_for(operator)
    other_key = signer_for(d.executors[1])
    url, digest = artifact(tmp_path / "perf.py")
    config = load(config_data(devnet, tmp_path, authentication={"enabled": True}), tmp_path)
    async with running_executor(config) as (service, client):
        management = client.management

        async def token() -> str:
            reply = await management.GetChallengeToken(
                executor_pb2.GetChallengeTokenRequest(operator_address=operator.address),
                timeout=10,
            )
            return reply.challenge_token

        def auth(value: str, signer=own_key) -> executor_pb2.AuthSignature:
            return executor_pb2.AuthSignature(
                challenge_token=value, signature=signer.sign_digest(token_digest(value))
            )

        listed = await client.performers()  # readable without credentials
        missing = await rpc_error(
            management.DeployArtifact(deploy_request(d.avs, url, digest), timeout=30)
        )
        request = deploy_request(d.avs, url, digest)
        request.auth.CopyFrom(auth(await token(), other_key))
        wrong_signer = await rpc_error(management.DeployArtifact(request, timeout=30))
        wrong_operator = await rpc_error(
            management.GetChallengeToken(
                executor_pb2.GetChallengeTokenRequest(operator_address=d.executors[1].address),
                timeout=10,
            )
        )
        no_operator = await rpc_error(
            management.GetChallengeToken(executor_pb2.GetChallengeTokenRequest(), timeout=10)
        )
        unchanged = await client.performers()
        assert service.store.list_deployments() == []

        request = deploy_request(d.avs, url, digest)
        request.auth.CopyFrom(auth(await token()))
        deployed = await management.DeployArtifact(request, timeout=60)
        replay = await rpc_error(management.DeployArtifact(request, timeout=30))
        [performer] = await client.performers()
        remove = executor_pb2.RemovePerformerRequest(performer_id=performer.performer_id)
        refused = await rpc_error(client.executor.RemovePerformer(remove, timeout=10))
        remove.auth.CopyFrom(auth(await token()))
        removed = await client.executor.RemovePerformer(remove, timeout=30)
        after = await client.performers()
    assert [p.performer_id for p in unchanged] == [p.performer_id for p in listed]
    assert missing.code() == grpc.StatusCode.UNAUTHENTICATED
    assert wrong_signer.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "invalid signature" in wrong_signer.details()
    assert wrong_operator.code() == grpc.StatusCode.PERMISSION_DENIED
    assert no_operator.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "operator_address" in no_operator.details()
    assert deployed.success and performer.artifact_digest == digest
    assert replay.code() == grpc.StatusCode.UNAUTHENTICATED and "already used" in replay.details()
    assert refused.code() == grpc.StatusCode.UNAUTHENTICATED
    assert removed.success and after == []
