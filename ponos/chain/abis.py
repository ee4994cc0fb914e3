"""ABI fragments of the EigenLayer and Hourglass contracts the services call.

Written from the interfaces' Solidity signatures (EigenLayer `src/contracts/interfaces/`,
Hourglass `ITaskAVSRegistrarBase`), not from the devnet's compiled ABIs, so that the services
speak to a real EigenLayer deployment and to the devnet alike. `tests/chain` checks the selectors
and topics against the reference values and that every fragment exists, identically typed, in
the devnet's contracts.
"""

from __future__ import annotations

from typing import Any

from ponos.chain.abitext import parse_signature

# Shared tuple shapes, spelled once.
OPERATOR_SET = "(address avs,uint32 id)"
G1_POINT = "(uint256 X,uint256 Y)"
G2_POINT = "(uint256[2] X,uint256[2] Y)"
CONSENSUS = "(uint8 consensusType,bytes value)"
TASK_CONFIG = (
    f"(address taskHook,uint96 taskSLA,address feeToken,uint8 curveType,address feeCollector,"
    f"{CONSENSUS} consensus,bytes taskMetadata)"
)
TASK_PARAMS = f"(address refundCollector,{OPERATOR_SET} executorOperatorSet,bytes payload)"
TASK = (
    "(address creator,uint96 creationTime,address avs,uint96 avsFee,address refundCollector,"
    "uint32 executorOperatorSetId,uint16 feeSplit,uint8 status,bool isFeeRefunded,"
    f"uint32 operatorTableReferenceTimestamp,{TASK_CONFIG} executorOperatorSetTaskConfig,"
    "bytes payload,bytes executorCert,bytes result)"
)
ECDSA_CERTIFICATE = "(uint32 referenceTimestamp,bytes32 messageHash,bytes sig)"
BN254_OPERATOR_INFO = f"({G1_POINT} pubkey,uint256[] weights)"
BN254_WITNESS = f"(uint32 operatorIndex,bytes operatorInfoProof,{BN254_OPERATOR_INFO} operatorInfo)"
BN254_CERTIFICATE = (
    f"(uint32 referenceTimestamp,bytes32 messageHash,{G1_POINT} signature,{G2_POINT} apk,"
    f"{BN254_WITNESS}[] nonSignerWitnesses)"
)
BN254_OPERATOR_SET_INFO = (
    f"(bytes32 operatorInfoTreeRoot,uint256 numOperators,{G1_POINT} aggregatePubkey,"
    "uint256[] totalWeights)"
)
ECDSA_OPERATOR_INFO = "(address pubkey,uint256[] weights)"
AVS_CONFIG = "(uint32 aggregatorOperatorSetId,uint32[] executorOperatorSetIds)"

SIGNATURES: dict[str, tuple[str, ...]] = {
    "TaskMailbox": (
        "event TaskCreated(address indexed creator, bytes32 indexed taskHash, address indexed avs,"
        " uint32 executorOperatorSetId, uint32 operatorTableReferenceTimestamp,"
        " address refundCollector, uint96 avsFee, uint256 taskDeadline, bytes payload)",
        "event TaskVerified(address indexed aggregator, bytes32 indexed taskHash,"
        " address indexed avs, uint32 executorOperatorSetId, bytes executorCert, bytes result)",
        f"function createTask({TASK_PARAMS} taskParams) returns (bytes32)",
        "function submitResult(bytes32 taskHash, bytes executorCert, bytes result)",
        f"function getExecutorOperatorSetTaskConfig({OPERATOR_SET} operatorSet) view"
        f" returns ({TASK_CONFIG})",
        f"function setExecutorOperatorSetTaskConfig({OPERATOR_SET} operatorSet,"
        f" {TASK_CONFIG} config)",
        f"function registerExecutorOperatorSet({OPERATOR_SET} operatorSet, bool isRegistered)",
        "function isExecutorOperatorSetRegistered(bytes32 operatorSetKey) view returns (bool)",
        f"function getTaskInfo(bytes32 taskHash) view returns ({TASK})",
        "function getTaskStatus(bytes32 taskHash) view returns (uint8)",
        "function getTaskResult(bytes32 taskHash) view returns (bytes)",
        f"function getBN254CertificateBytes({BN254_CERTIFICATE} cert) pure returns (bytes)",
        f"function getECDSACertificateBytes({ECDSA_CERTIFICATE} cert) pure returns (bytes)",
        "function BN254_CERTIFICATE_VERIFIER() view returns (address)",
        "function ECDSA_CERTIFICATE_VERIFIER() view returns (address)",
    ),
    "AllocationManager": (
        "function getAVSRegistrar(address avs) view returns (address)",
        f"function getMembers({OPERATOR_SET} operatorSet) view returns (address[])",
        f"function getMemberCount({OPERATOR_SET} operatorSet) view returns (uint256)",
        f"function isMemberOfOperatorSet(address operator, {OPERATOR_SET} operatorSet) view"
        " returns (bool)",
    ),
    "TaskAVSRegistrar": (
        "function getAVS() view returns (address)",
        f"function getAvsConfig() view returns ({AVS_CONFIG})",
        "function getOperatorSocket(address operator) view returns (string)",
    ),
    "KeyRegistrar": (
        f"function getOperatorSetCurveType({OPERATOR_SET} operatorSet) view returns (uint8)",
        f"function getBN254Key({OPERATOR_SET} operatorSet, address operator) view"
        f" returns ({G1_POINT} g1Point, {G2_POINT} g2Point)",
        f"function getECDSAAddress({OPERATOR_SET} operatorSet, address operator) view"
        " returns (address)",
        f"function getECDSAKey({OPERATOR_SET} operatorSet, address operator) view returns (bytes)",
        f"function isRegistered({OPERATOR_SET} operatorSet, address operator) view returns (bool)",
    ),
    "CrossChainRegistry": (
        "function getSupportedChains() view returns (uint256[], address[])",
        f"function getOperatorTableCalculator({OPERATOR_SET} operatorSet) view returns (address)",
    ),
    "OperatorTableCalculator": (
        f"function getOperatorSetWeights({OPERATOR_SET} operatorSet) view"
        " returns (address[] operators, uint256[][] weights)",
        f"function getOperatorWeight({OPERATOR_SET} operatorSet, address operator) view"
        " returns (uint256[] weights)",
        f"function calculateOperatorTableBytes({OPERATOR_SET} operatorSet) view returns (bytes)",
    ),
    "ECDSATableCalculator": (
        f"function getOperatorInfos({OPERATOR_SET} operatorSet) view"
        f" returns ({ECDSA_OPERATOR_INFO}[])",
    ),
    "BN254TableCalculator": (
        f"function getOperatorInfos({OPERATOR_SET} operatorSet) view"
        f" returns ({BN254_OPERATOR_INFO}[])",
        f"function getOperatorSetInfo({OPERATOR_SET} operatorSet) view"
        f" returns ({BN254_OPERATOR_SET_INFO})",
    ),
    "OperatorTableUpdater": (
        "function getLatestReferenceTimestamp() view returns (uint32)",
        "function getLatestReferenceBlockNumber() view returns (uint32)",
        "function getReferenceBlockNumberByTimestamp(uint32 referenceTimestamp) view"
        " returns (uint32)",
        "function getReferenceTimestampByBlockNumber(uint32 referenceBlockNumber) view"
        " returns (uint32)",
    ),
    "ECDSACertificateVerifier": (
        "function domainSeparator() view returns (bytes32)",
        "function calculateCertificateDigestBytes(uint32 referenceTimestamp, bytes32 messageHash)"
        " view returns (bytes)",
        "function calculateCertificateDigest(uint32 referenceTimestamp, bytes32 messageHash) view"
        " returns (bytes32)",
        f"function getOperatorInfos({OPERATOR_SET} operatorSet, uint32 referenceTimestamp) view"
        f" returns ({ECDSA_OPERATOR_INFO}[])",
        f"function getOperatorInfo({OPERATOR_SET} operatorSet, uint32 referenceTimestamp,"
        f" uint256 operatorIndex) view returns ({ECDSA_OPERATOR_INFO})",
        f"function getTotalStakeWeights({OPERATOR_SET} operatorSet, uint32 referenceTimestamp)"
        " view returns (uint256[])",
        f"function latestReferenceTimestamp({OPERATOR_SET} operatorSet) view returns (uint32)",
        f"function isReferenceTimestampSet({OPERATOR_SET} operatorSet, uint32 referenceTimestamp)"
        " view returns (bool)",
        f"function verifyCertificate({OPERATOR_SET} operatorSet, {ECDSA_CERTIFICATE} cert) view"
        " returns (uint256[], address[])",
        f"function verifyCertificateProportion({OPERATOR_SET} operatorSet,"
        f" {ECDSA_CERTIFICATE} cert, uint16[] totalStakeProportionThresholds) view"
        " returns (bool, address[])",
    ),
    "BN254CertificateVerifier": (
        "function calculateCertificateDigest(uint32 referenceTimestamp, bytes32 messageHash) view"
        " returns (bytes32)",
        f"function getOperatorSetInfo({OPERATOR_SET} operatorSet, uint32 referenceTimestamp) view"
        f" returns ({BN254_OPERATOR_SET_INFO})",
        f"function getNonsignerOperatorInfo({OPERATOR_SET} operatorSet,"
        f" uint32 referenceTimestamp, uint256 operatorIndex) view returns ({BN254_OPERATOR_INFO})",
        f"function isNonsignerCached({OPERATOR_SET} operatorSet, uint32 referenceTimestamp,"
        " uint256 operatorIndex) view returns (bool)",
        f"function getTotalStakeWeights({OPERATOR_SET} operatorSet, uint32 referenceTimestamp)"
        " view returns (uint256[])",
        f"function latestReferenceTimestamp({OPERATOR_SET} operatorSet) view returns (uint32)",
        f"function isReferenceTimestampSet({OPERATOR_SET} operatorSet, uint32 referenceTimestamp)"
        " view returns (bool)",
        f"function verifyCertificate({OPERATOR_SET} operatorSet, {BN254_CERTIFICATE} cert)"
        " returns (uint256[])",
        f"function verifyCertificateProportion({OPERATOR_SET} operatorSet,"
        f" {BN254_CERTIFICATE} cert, uint16[] totalStakeProportionThresholds) returns (bool)",
        f"function trySignatureVerification(bytes32 msgHash, {G1_POINT} aggPubkey,"
        f" {G2_POINT} apkG2, {G1_POINT} signature) view"
        " returns (bool pairingSuccessful, bool signatureValid)",
    ),
}


def _build(signatures: tuple[str, ...]) -> list[dict[str, Any]]:
    return [parse_signature(s) for s in signatures]


ABIS: dict[str, list[dict[str, Any]]] = {name: _build(sigs) for name, sigs in SIGNATURES.items()}

TASK_MAILBOX_ABI = ABIS["TaskMailbox"]
ALLOCATION_MANAGER_ABI = ABIS["AllocationManager"]
TASK_AVS_REGISTRAR_ABI = ABIS["TaskAVSRegistrar"]
KEY_REGISTRAR_ABI = ABIS["KeyRegistrar"]
CROSS_CHAIN_REGISTRY_ABI = ABIS["CrossChainRegistry"]
OPERATOR_TABLE_CALCULATOR_ABI = ABIS["OperatorTableCalculator"]
ECDSA_TABLE_CALCULATOR_ABI = ABIS["OperatorTableCalculator"] + ABIS["ECDSATableCalculator"]
BN254_TABLE_CALCULATOR_ABI = ABIS["OperatorTableCalculator"] + ABIS["BN254TableCalculator"]
OPERATOR_TABLE_UPDATER_ABI = ABIS["OperatorTableUpdater"]
ECDSA_CERTIFICATE_VERIFIER_ABI = ABIS["ECDSACertificateVerifier"]
BN254_CERTIFICATE_VERIFIER_ABI = ABIS["BN254CertificateVerifier"]

# The ABI each reader call uses, by the contract role it talks to.
ABIS_BY_USE: dict[str, list[dict[str, Any]]] = {
    "TaskMailbox": TASK_MAILBOX_ABI,
    "AllocationManager": ALLOCATION_MANAGER_ABI,
    "TaskAVSRegistrar": TASK_AVS_REGISTRAR_ABI,
    "KeyRegistrar": KEY_REGISTRAR_ABI,
    "CrossChainRegistry": CROSS_CHAIN_REGISTRY_ABI,
    "OperatorTableCalculator": OPERATOR_TABLE_CALCULATOR_ABI,
    "OperatorTableUpdater": OPERATOR_TABLE_UPDATER_ABI,
    "ECDSACertificateVerifier": ECDSA_CERTIFICATE_VERIFIER_ABI,
    "BN254CertificateVerifier": BN254_CERTIFICATE_VERIFIER_ABI,
}
