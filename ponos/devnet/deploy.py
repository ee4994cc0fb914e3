"""Deploy the devnet contracts and register an AVS with an aggregator and an executor set.

`deploy_devnet(rpc_url, ...)` talks to an anvil node (its first account is the deployer and the
AVS), deploys every contract in contracts/artifacts, creates operator set 0 (aggregator, one
operator) and set 1 (executors, N operators) on one curve, registers keys, weights and sockets,
publishes both operator tables and configures the executor set in the TaskMailbox. The returned
`DevnetDeployment` is JSON-serialisable and holds every address and key the services need.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from eth_abi import encode as abi_encode
from web3 import Web3
from web3.exceptions import ContractLogicError, Web3Exception

from ponos.devnet.artifacts import load_artifact
from ponos.devnet.errors import DeploymentError, DevnetError
from ponos.devnet.keys import (
    Bn254Key,
    EcdsaKey,
    derive_bn254_key,
    derive_ecdsa_key,
)
from ponos.log import get_logger

log = get_logger(__name__)

Curve = Literal["ecdsa", "bn254"]
CURVE_TYPES = {"ecdsa": 1, "bn254": 2}
AGGREGATOR_SET_ID = 0
EXECUTOR_SET_ID = 1
VERIFIER_VERSION = "v1.0.0"
DEFAULT_SEED = "ponos-devnet"
AGGREGATOR_FUNDING_WEI = 100 * 10**18
DEPLOY_GAS_LIMIT = 15_000_000


@dataclass
class OperatorKeys:
    """One operator: identity and transaction key, signing key, weight and socket."""

    index: int
    address: str
    private_key: str  # operatorPrivateKey: the operator's transaction key
    weight: int
    socket: str | None
    ecdsa: EcdsaKey | None = None
    bls: Bn254Key | None = None

    @property
    def signing_address(self) -> str | None:
        return self.ecdsa.address if self.ecdsa else None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OperatorKeys:
        ecdsa = EcdsaKey(**data["ecdsa"]) if data.get("ecdsa") else None
        bls = None
        if data.get("bls"):
            raw = data["bls"]
            bls = Bn254Key(
                private_key=raw["private_key"],
                g1=tuple(raw["g1"]),
                g2=(tuple(raw["g2"][0]), tuple(raw["g2"][1])),
            )
        return cls(
            index=data["index"],
            address=data["address"],
            private_key=data["private_key"],
            weight=data["weight"],
            socket=data.get("socket"),
            ecdsa=ecdsa,
            bls=bls,
        )


@dataclass
class DevnetDeployment:
    rpc_url: str
    chain_id: int
    curve: Curve
    threshold_bips: int
    task_sla: int
    seed: str
    avs: str
    avs_registrar: str
    contracts: dict[str, str]
    aggregator: OperatorKeys
    executors: list[OperatorKeys]
    reference_timestamp: int
    deployed_block: int
    aggregator_operator_set_id: int = AGGREGATOR_SET_ID
    executor_operator_set_id: int = EXECUTOR_SET_ID
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def curve_type(self) -> int:
        return CURVE_TYPES[self.curve]

    def parameters(self) -> dict[str, Any]:
        """What `devnet up` was asked for: equal parameters mean the same deployment."""
        return {
            "chain_id": self.chain_id,
            "curve": self.curve,
            "threshold_bips": self.threshold_bips,
            "task_sla": self.task_sla,
            "seed": self.seed,
            "operators": len(self.executors),
            "weights": [op.weight for op in self.executors],
            "sockets": [op.socket for op in self.executors],
        }

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["aggregator"] = self.aggregator.to_json()
        data["executors"] = [op.to_json() for op in self.executors]
        return data

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DevnetDeployment:
        try:
            values = dict(data)
            values["aggregator"] = OperatorKeys.from_json(data["aggregator"])
            values["executors"] = [OperatorKeys.from_json(op) for op in data["executors"]]
            return cls(**values)
        except (KeyError, TypeError, ValueError) as exc:
            raise DevnetError(f"deployment data is incomplete or invalid ({exc})") from None


def validate_options(
    operators: int,
    curve: str,
    threshold_bips: int,
    task_sla: int,
    weights: list[int] | None,
    sockets: list[str] | None,
) -> None:
    if operators < 1:
        raise DevnetError(f"--operators must be at least 1, got {operators}")
    if curve not in CURVE_TYPES:
        raise DevnetError(f"--curve must be ecdsa or bn254, got {curve!r}")
    if not 0 <= threshold_bips <= 10000:
        raise DevnetError(f"--threshold-bips must be between 0 and 10000, got {threshold_bips}")
    if not 0 < task_sla < 2**96:
        raise DevnetError(f"--task-sla must be a positive number of seconds, got {task_sla}")
    if weights is not None:
        if len(weights) != operators:
            raise DevnetError(f"--weights has {len(weights)} values for {operators} operators")
        if any(w <= 0 for w in weights):
            raise DevnetError("--weights must all be positive")
    if sockets is not None and len(sockets) != operators:
        raise DevnetError(f"{len(sockets)} sockets given for {operators} operators")


def make_operator_keys(
    seed: str,
    role: str,
    count: int,
    curve: Curve,
    weights: list[int],
    sockets: list[str | None],
) -> list[OperatorKeys]:
    keys = []
    for i in range(count):
        identity = derive_ecdsa_key(seed, f"{role}/{i}/operator")
        keys.append(
            OperatorKeys(
                index=i,
                address=identity.address,
                private_key=identity.private_key,
                weight=weights[i],
                socket=sockets[i],
                ecdsa=derive_ecdsa_key(seed, f"{role}/{i}/ecdsa") if curve == "ecdsa" else None,
                bls=derive_bn254_key(seed, f"{role}/{i}/bn254") if curve == "bn254" else None,
            )
        )
    return keys


def key_data(operator: OperatorKeys) -> bytes:
    """KeyRegistrar keyData: the 20-byte ECDSA address, or abi.encode(G1, G2) for BN254."""
    if operator.ecdsa is not None:
        return bytes.fromhex(operator.ecdsa.address[2:])
    assert operator.bls is not None
    bls = operator.bls
    return abi_encode(
        ["uint256", "uint256", "uint256[2]", "uint256[2]"],
        [bls.g1[0], bls.g1[1], list(bls.g2[0]), list(bls.g2[1])],
    )


class _Deployer:
    """Sends the deployment transactions from anvil's first (unlocked) account."""

    def __init__(self, w3: Web3) -> None:
        self.w3 = w3
        accounts = w3.eth.accounts
        if not accounts:
            raise DevnetError("the node has no unlocked accounts (is it anvil?)")
        self.account = accounts[0]

    def _tx(self) -> dict[str, Any]:
        # A fixed gas limit skips eth_estimateGas (a second execution of every transaction);
        # a failing transaction is then mined with status 0 and reported by _wait.
        return {"from": self.account, "gas": DEPLOY_GAS_LIMIT}

    def _wait(self, tx_hash: bytes, what: str) -> Any:
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.01)
        if receipt["status"] != 1:
            raise DeploymentError(f"transaction {what} reverted (tx {tx_hash.hex()})")
        return receipt

    def deploy(self, name: str, *args: Any) -> str:
        artifact = load_artifact(name)
        factory = self.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        try:
            tx_hash = factory.constructor(*args).transact(self._tx())
        except (ContractLogicError, Web3Exception) as exc:
            raise DeploymentError(f"deploying {name} failed: {exc}") from None
        receipt = self._wait(tx_hash, f"deploy {name}")
        return receipt["contractAddress"].lower()

    def call(self, name: str, address: str, function: str, *args: Any) -> Any:
        contract = self.contract(name, address)
        try:
            tx_hash = contract.functions[function](*args).transact(self._tx())
        except (ContractLogicError, Web3Exception) as exc:
            raise DeploymentError(f"{name}.{function} failed: {exc}") from None
        return self._wait(tx_hash, f"{name}.{function}")

    def contract(self, name: str, address: str) -> Any:
        return self.w3.eth.contract(
            address=Web3.to_checksum_address(address), abi=load_artifact(name).abi
        )


def deploy_devnet(
    rpc_url: str,
    operators: int = 3,
    curve: Curve = "ecdsa",
    threshold_bips: int = 6667,
    task_sla: int = 60,
    weights: list[int] | None = None,
    sockets: list[str] | None = None,
    seed: str = DEFAULT_SEED,
    grpc_base_port: int = 9090,
) -> DevnetDeployment:
    """Deploy and configure everything; see the module docstring."""
    validate_options(operators, curve, threshold_bips, task_sla, weights, sockets)
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 30}))
    try:
        chain_id = w3.eth.chain_id
    except (OSError, Web3Exception) as exc:
        raise DevnetError(f"cannot reach the node at {rpc_url} ({exc})") from None
    d = _Deployer(w3)
    avs = d.account.lower()
    executor_weights = weights or [100] * operators
    executor_sockets: list[str | None] = list(
        sockets or [f"127.0.0.1:{grpc_base_port + i}" for i in range(operators)]
    )
    aggregator = make_operator_keys(seed, "aggregator", 1, curve, [1], [None])[0]
    executors = make_operator_keys(
        seed, "executor", operators, curve, executor_weights, executor_sockets
    )

    c: dict[str, str] = {}
    c["AllocationManager"] = d.deploy("AllocationManager")
    c["KeyRegistrar"] = d.deploy("KeyRegistrar")
    c["CrossChainRegistry"] = d.deploy("CrossChainRegistry")
    c["OperatorTableUpdater"] = d.deploy(
        "OperatorTableUpdater", _cs(c["KeyRegistrar"]), _cs(c["CrossChainRegistry"])
    )
    c["ECDSACertificateVerifier"] = d.deploy(
        "ECDSACertificateVerifier", _cs(c["OperatorTableUpdater"]), VERIFIER_VERSION
    )
    c["BN254CertificateVerifier"] = d.deploy(
        "BN254CertificateVerifier", _cs(c["OperatorTableUpdater"]), VERIFIER_VERSION
    )
    d.call(
        "OperatorTableUpdater",
        c["OperatorTableUpdater"],
        "setCertificateVerifiers",
        _cs(c["ECDSACertificateVerifier"]),
        _cs(c["BN254CertificateVerifier"]),
    )
    d.call(
        "CrossChainRegistry",
        c["CrossChainRegistry"],
        "setTableUpdater",
        _cs(c["OperatorTableUpdater"]),
    )
    for calculator in ("ECDSATableCalculator", "BN254TableCalculator"):
        c[calculator] = d.deploy(calculator, _cs(c["AllocationManager"]), _cs(c["KeyRegistrar"]))
    c["TaskMailbox"] = d.deploy(
        "TaskMailbox",
        _cs(c["BN254CertificateVerifier"]),
        _cs(c["ECDSACertificateVerifier"]),
        VERIFIER_VERSION,
    )
    c["AVSTaskHook"] = d.deploy("AVSTaskHook")
    registrar = d.deploy("TaskAVSRegistrar", _cs(avs), (AGGREGATOR_SET_ID, [EXECUTOR_SET_ID]))
    c["TaskAVSRegistrar"] = registrar
    d.call("AllocationManager", c["AllocationManager"], "setAVSRegistrar", _cs(avs), _cs(registrar))

    calculator = c["ECDSATableCalculator" if curve == "ecdsa" else "BN254TableCalculator"]
    sets = [(AGGREGATOR_SET_ID, [aggregator]), (EXECUTOR_SET_ID, executors)]
    for set_id, members in sets:
        operator_set = (_cs(avs), set_id)
        d.call("AllocationManager", c["AllocationManager"], "createOperatorSet", operator_set)
        d.call(
            "KeyRegistrar",
            c["KeyRegistrar"],
            "configureOperatorSet",
            operator_set,
            CURVE_TYPES[curve],
        )
        d.call(
            "CrossChainRegistry",
            c["CrossChainRegistry"],
            "setOperatorTableCalculator",
            operator_set,
            _cs(calculator),
        )
        for op in members:
            register_operator(d, c, registrar, operator_set, op)

    receipt = d.call(
        "OperatorTableUpdater",
        c["OperatorTableUpdater"],
        "publishOperatorTables",
        [(_cs(avs), AGGREGATOR_SET_ID), (_cs(avs), EXECUTOR_SET_ID)],
    )
    reference_timestamp = (
        d.contract("OperatorTableUpdater", c["OperatorTableUpdater"])
        .functions.getLatestReferenceTimestamp()
        .call()
    )
    task_config = (
        _cs(c["AVSTaskHook"]),
        task_sla,
        _cs("0x" + "00" * 20),
        CURVE_TYPES[curve],
        _cs("0x" + "00" * 20),
        (1, abi_encode(["uint16"], [threshold_bips])),
        b"",
    )
    d.call(
        "TaskMailbox",
        c["TaskMailbox"],
        "setExecutorOperatorSetTaskConfig",
        (_cs(avs), EXECUTOR_SET_ID),
        task_config,
    )
    # The aggregator sends submitResult transactions: give it gas money.
    tx = w3.eth.send_transaction(
        {"from": d.account, "to": _cs(aggregator.address), "value": AGGREGATOR_FUNDING_WEI}
    )
    d._wait(tx, "fund the aggregator")
    deployment = DevnetDeployment(
        rpc_url=rpc_url,
        chain_id=chain_id,
        curve=curve,
        threshold_bips=threshold_bips,
        task_sla=task_sla,
        seed=seed,
        avs=avs,
        avs_registrar=registrar,
        contracts=c,
        aggregator=aggregator,
        executors=executors,
        reference_timestamp=reference_timestamp,
        deployed_block=receipt["blockNumber"],
    )
    log.info(
        "Devnet deployed",
        rpc_url=rpc_url,
        chain_id=chain_id,
        curve=curve,
        operators=operators,
        task_mailbox=c["TaskMailbox"],
        avs=avs,
    )
    return deployment


def register_operator(
    d: _Deployer,
    c: dict[str, str],
    registrar: str,
    operator_set: tuple[str, int],
    op: OperatorKeys,
) -> None:
    """Membership with weight, signing key, and (for executors) the gRPC socket."""
    d.call(
        "AllocationManager",
        c["AllocationManager"],
        "addOperatorToSet",
        operator_set,
        _cs(op.address),
        op.weight,
    )
    d.call("KeyRegistrar", c["KeyRegistrar"], "registerKey", _cs(op.address), operator_set,
           key_data(op), b"")  # fmt: skip
    if op.socket:
        d.call(
            "TaskAVSRegistrar", registrar, "updateOperatorSocket", _cs(op.address), op.socket
        )


def _cs(address: str) -> str:
    return Web3.to_checksum_address(address)
