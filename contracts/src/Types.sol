// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

// Shared types of the devnet contracts. Names, field order and ABI encodings follow EigenLayer's
// interfaces (ITaskMailbox, IKeyRegistrar, IOperatorTableCalculator, I*CertificateVerifier,
// ICrossChainRegistry) and Hourglass's ITaskAVSRegistrarBase, so that the ABI-level signatures the
// services use are identical. Written for the Ponos-py devnet; not EigenLayer's code.

/// @notice An operator set: an AVS address and a set id (EigenLayer's OperatorSetLib.OperatorSet).
struct OperatorSet {
    address avs;
    uint32 id;
}

library OperatorSetLib {
    /// @notice The storage key of an operator set: avs (20 bytes) followed by the id as uint96,
    /// the same packing EigenLayer uses (TaskMailbox.isExecutorOperatorSetRegistered takes it).
    function key(OperatorSet memory operatorSet) internal pure returns (bytes32) {
        return bytes32(abi.encodePacked(operatorSet.avs, uint96(operatorSet.id)));
    }
}

/// @notice KeyRegistrar curve types: 0 none, 1 ECDSA, 2 BN254.
enum CurveType {
    NONE,
    ECDSA,
    BN254
}

/// @notice TaskMailbox consensus types; STAKE_PROPORTION_THRESHOLD's value is abi.encode(uint16 bips).
enum ConsensusType {
    NONE,
    STAKE_PROPORTION_THRESHOLD
}

/// @notice TaskMailbox task status; EXPIRED is derived from the deadline, never stored.
enum TaskStatus {
    NONE,
    CREATED,
    VERIFIED,
    EXPIRED
}

struct G1Point {
    uint256 X;
    uint256 Y;
}

/// @notice A G2 point in Solidity (EIP-197) order: X = [x_imaginary, x_real], Y likewise.
struct G2Point {
    uint256[2] X;
    uint256[2] Y;
}

struct BN254OperatorInfo {
    G1Point pubkey;
    uint256[] weights;
}

struct BN254OperatorSetInfo {
    bytes32 operatorInfoTreeRoot;
    uint256 numOperators;
    G1Point aggregatePubkey;
    uint256[] totalWeights;
}

struct ECDSAOperatorInfo {
    address pubkey;
    uint256[] weights;
}

/// @notice ICrossChainRegistryTypes.OperatorSetConfig, transported with every operator table.
struct OperatorSetConfig {
    address owner;
    uint32 maxStalenessPeriod;
}

struct ECDSACertificate {
    uint32 referenceTimestamp;
    bytes32 messageHash;
    bytes sig;
}

struct BN254OperatorInfoWitness {
    uint32 operatorIndex;
    bytes operatorInfoProof;
    BN254OperatorInfo operatorInfo;
}

struct BN254Certificate {
    uint32 referenceTimestamp;
    bytes32 messageHash;
    G1Point signature;
    G2Point apk;
    BN254OperatorInfoWitness[] nonSignerWitnesses;
}

struct Consensus {
    ConsensusType consensusType;
    bytes value;
}

struct ExecutorOperatorSetTaskConfig {
    address taskHook;
    uint96 taskSLA;
    address feeToken;
    CurveType curveType;
    address feeCollector;
    Consensus consensus;
    bytes taskMetadata;
}

struct TaskParams {
    address refundCollector;
    OperatorSet executorOperatorSet;
    bytes payload;
}

struct Task {
    address creator;
    uint96 creationTime;
    address avs;
    uint96 avsFee;
    address refundCollector;
    uint32 executorOperatorSetId;
    uint16 feeSplit;
    TaskStatus status;
    bool isFeeRefunded;
    uint32 operatorTableReferenceTimestamp;
    ExecutorOperatorSetTaskConfig executorOperatorSetTaskConfig;
    bytes payload;
    bytes executorCert;
    bytes result;
}

/// @notice Hourglass ITaskAVSRegistrarBaseTypes.AvsConfig.
struct AvsConfig {
    uint32 aggregatorOperatorSetId;
    uint32[] executorOperatorSetIds;
}
