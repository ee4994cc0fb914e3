// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import "./Types.sol";
import {
    IAVSTaskHook,
    IBaseCertificateVerifierView,
    IECDSACertificateVerifierCalls,
    IBN254CertificateVerifierCalls
} from "./Interfaces.sol";

/// @title Devnet TaskMailbox
/// @notice EigenLayer's TaskMailbox semantics with the same external signatures, events and errors:
/// taskHash = keccak256(abi.encode(globalTaskCount, mailbox, chainid, taskParams)); the task's
/// operatorTableReferenceTimestamp is the executor set's latest table in the verifier of its curve;
/// deadline = creation time + taskSLA (absolute); a CREATED task past its deadline reads EXPIRED;
/// submitResult checks the certificate (reference timestamp, messageHash = keccak256(result),
/// signature, stake threshold) and marks the task VERIFIED.
/// Devnet simplifications: fees are inert (no token transfers, avsFee from the hook is recorded and
/// emitted only); no proxy, owner or initializer.
contract TaskMailbox {
    using OperatorSetLib for OperatorSet;

    error ThresholdNotMet();
    error ExecutorOperatorSetNotRegistered();
    error ExecutorOperatorSetTaskConfigNotSet();
    error InvalidCurveType();
    error InvalidTaskStatus(TaskStatus expected, TaskStatus actual);
    error PayloadIsEmpty();
    error TimestampAtCreation();
    error InvalidOperatorSetOwner();
    error InvalidConsensusType();
    error InvalidConsensusValue();
    error InvalidReferenceTimestamp();
    error EmptyCertificateSignature();
    error InvalidMessageHash();
    error Reentrancy();

    event ExecutorOperatorSetRegistered(
        address indexed caller, address indexed avs, uint32 indexed executorOperatorSetId, bool isRegistered
    );
    event ExecutorOperatorSetTaskConfigSet(
        address indexed caller,
        address indexed avs,
        uint32 indexed executorOperatorSetId,
        ExecutorOperatorSetTaskConfig config
    );
    event TaskCreated(
        address indexed creator,
        bytes32 indexed taskHash,
        address indexed avs,
        uint32 executorOperatorSetId,
        uint32 operatorTableReferenceTimestamp,
        address refundCollector,
        uint96 avsFee,
        uint256 taskDeadline,
        bytes payload
    );
    event TaskVerified(
        address indexed aggregator,
        bytes32 indexed taskHash,
        address indexed avs,
        uint32 executorOperatorSetId,
        bytes executorCert,
        bytes result
    );

    uint16 internal constant ONE_HUNDRED_IN_BIPS = 10000;

    address public immutable BN254_CERTIFICATE_VERIFIER;
    address public immutable ECDSA_CERTIFICATE_VERIFIER;
    string internal _version;

    uint256 internal _globalTaskCount;
    uint256 internal _locked;
    mapping(bytes32 => bool) public isExecutorOperatorSetRegistered;
    mapping(bytes32 => ExecutorOperatorSetTaskConfig) internal _executorOperatorSetTaskConfigs;
    mapping(bytes32 => Task) internal _tasks;

    constructor(address bn254CertificateVerifier, address ecdsaCertificateVerifier, string memory version_) {
        BN254_CERTIFICATE_VERIFIER = bn254CertificateVerifier;
        ECDSA_CERTIFICATE_VERIFIER = ecdsaCertificateVerifier;
        _version = version_;
    }

    modifier nonReentrant() {
        if (_locked != 0) revert Reentrancy();
        _locked = 1;
        _;
        _locked = 0;
    }

    // ---------------------------------------------------------------- configuration

    function setExecutorOperatorSetTaskConfig(
        OperatorSet memory operatorSet,
        ExecutorOperatorSetTaskConfig memory config
    ) external {
        if (!_isConfigPopulated(config)) revert ExecutorOperatorSetTaskConfigNotSet();
        _validateConsensus(config.consensus);
        _validateOperatorSetOwner(operatorSet, config.curveType);
        _executorOperatorSetTaskConfigs[operatorSet.key()] = config;
        emit ExecutorOperatorSetTaskConfigSet(msg.sender, operatorSet.avs, operatorSet.id, config);
        if (!isExecutorOperatorSetRegistered[operatorSet.key()]) {
            _registerExecutorOperatorSet(operatorSet, true);
        }
    }

    function registerExecutorOperatorSet(OperatorSet memory operatorSet, bool isRegistered) external {
        ExecutorOperatorSetTaskConfig memory config = _executorOperatorSetTaskConfigs[operatorSet.key()];
        if (!_isConfigPopulated(config)) revert ExecutorOperatorSetTaskConfigNotSet();
        _validateOperatorSetOwner(operatorSet, config.curveType);
        _registerExecutorOperatorSet(operatorSet, isRegistered);
    }

    // ---------------------------------------------------------------- tasks

    function createTask(TaskParams memory taskParams) external nonReentrant returns (bytes32 taskHash) {
        if (taskParams.payload.length == 0) revert PayloadIsEmpty();
        bytes32 setKey = taskParams.executorOperatorSet.key();
        if (!isExecutorOperatorSetRegistered[setKey]) revert ExecutorOperatorSetNotRegistered();
        ExecutorOperatorSetTaskConfig memory config = _executorOperatorSetTaskConfigs[setKey];
        if (!_isConfigPopulated(config)) revert ExecutorOperatorSetTaskConfigNotSet();

        IAVSTaskHook(config.taskHook).validatePreTaskCreation(msg.sender, taskParams);
        uint96 avsFee = IAVSTaskHook(config.taskHook).calculateTaskFee(taskParams);
        uint32 referenceTimestamp = IBaseCertificateVerifierView(_certificateVerifier(config.curveType))
            .latestReferenceTimestamp(taskParams.executorOperatorSet);

        taskHash = keccak256(abi.encode(_globalTaskCount, address(this), block.chainid, taskParams));
        _globalTaskCount += 1;

        Task storage task = _tasks[taskHash];
        task.creator = msg.sender;
        task.creationTime = uint96(block.timestamp);
        task.avs = taskParams.executorOperatorSet.avs;
        task.avsFee = avsFee;
        task.refundCollector = taskParams.refundCollector;
        task.executorOperatorSetId = taskParams.executorOperatorSet.id;
        task.status = TaskStatus.CREATED;
        task.operatorTableReferenceTimestamp = referenceTimestamp;
        task.executorOperatorSetTaskConfig = config;
        task.payload = taskParams.payload;

        IAVSTaskHook(config.taskHook).handlePostTaskCreation(taskHash);

        emit TaskCreated(
            msg.sender,
            taskHash,
            taskParams.executorOperatorSet.avs,
            taskParams.executorOperatorSet.id,
            referenceTimestamp,
            taskParams.refundCollector,
            avsFee,
            block.timestamp + config.taskSLA,
            taskParams.payload
        );
    }

    function submitResult(bytes32 taskHash, bytes memory executorCert, bytes memory result) external nonReentrant {
        Task storage task = _tasks[taskHash];
        TaskStatus status = _taskStatus(task);
        if (status != TaskStatus.CREATED) revert InvalidTaskStatus(TaskStatus.CREATED, status);
        if (block.timestamp <= task.creationTime) revert TimestampAtCreation();

        ExecutorOperatorSetTaskConfig memory config = task.executorOperatorSetTaskConfig;
        IAVSTaskHook(config.taskHook).validatePreTaskResultSubmission(msg.sender, taskHash, executorCert, result);

        _verifyExecutorCertificate(
            config.curveType,
            config.consensus,
            OperatorSet(task.avs, task.executorOperatorSetId),
            task.operatorTableReferenceTimestamp,
            keccak256(result),
            executorCert
        );

        task.status = TaskStatus.VERIFIED;
        task.executorCert = executorCert;
        task.result = result;

        IAVSTaskHook(config.taskHook).handlePostTaskResultSubmission(msg.sender, taskHash);

        emit TaskVerified(msg.sender, taskHash, task.avs, task.executorOperatorSetId, executorCert, result);
    }

    // ---------------------------------------------------------------- internals

    function _registerExecutorOperatorSet(OperatorSet memory operatorSet, bool isRegistered) internal {
        isExecutorOperatorSetRegistered[operatorSet.key()] = isRegistered;
        emit ExecutorOperatorSetRegistered(msg.sender, operatorSet.avs, operatorSet.id, isRegistered);
    }

    function _taskStatus(Task storage task) internal view returns (TaskStatus) {
        if (
            task.status == TaskStatus.CREATED
                && block.timestamp > uint256(task.creationTime) + task.executorOperatorSetTaskConfig.taskSLA
        ) {
            return TaskStatus.EXPIRED;
        }
        return task.status;
    }

    function _certificateVerifier(CurveType curveType) internal view returns (address) {
        if (curveType == CurveType.BN254) return BN254_CERTIFICATE_VERIFIER;
        if (curveType == CurveType.ECDSA) return ECDSA_CERTIFICATE_VERIFIER;
        revert InvalidCurveType();
    }

    function _isConfigPopulated(ExecutorOperatorSetTaskConfig memory config) internal pure returns (bool) {
        return config.curveType != CurveType.NONE && config.taskHook != address(0) && config.taskSLA > 0;
    }

    function _validateOperatorSetOwner(OperatorSet memory operatorSet, CurveType curveType) internal view {
        if (IBaseCertificateVerifierView(_certificateVerifier(curveType)).getOperatorSetOwner(operatorSet) != msg.sender)
        {
            revert InvalidOperatorSetOwner();
        }
    }

    function _validateConsensus(Consensus memory consensus) internal pure {
        if (consensus.consensusType == ConsensusType.NONE) {
            if (consensus.value.length != 0) revert InvalidConsensusValue();
        } else if (consensus.consensusType == ConsensusType.STAKE_PROPORTION_THRESHOLD) {
            if (consensus.value.length != 32) revert InvalidConsensusValue();
            if (abi.decode(consensus.value, (uint16)) > ONE_HUNDRED_IN_BIPS) revert InvalidConsensusValue();
        } else {
            revert InvalidConsensusType();
        }
    }

    function _verifyExecutorCertificate(
        CurveType curveType,
        Consensus memory consensus,
        OperatorSet memory executorOperatorSet,
        uint32 referenceTimestamp,
        bytes32 resultHash,
        bytes memory executorCert
    ) internal {
        bool thresholdCheck = consensus.consensusType == ConsensusType.STAKE_PROPORTION_THRESHOLD;
        uint16[] memory thresholds = new uint16[](1);
        if (thresholdCheck) {
            thresholds[0] = abi.decode(consensus.value, (uint16));
        } else if (consensus.consensusType != ConsensusType.NONE) {
            revert InvalidConsensusType();
        }
        bool thresholdMet = true;
        if (curveType == CurveType.BN254) {
            BN254Certificate memory cert = abi.decode(executorCert, (BN254Certificate));
            if (cert.referenceTimestamp != referenceTimestamp) revert InvalidReferenceTimestamp();
            if (cert.messageHash != resultHash) revert InvalidMessageHash();
            if (cert.signature.X == 0 || cert.signature.Y == 0) revert EmptyCertificateSignature();
            IBN254CertificateVerifierCalls verifier = IBN254CertificateVerifierCalls(BN254_CERTIFICATE_VERIFIER);
            if (thresholdCheck) {
                thresholdMet = verifier.verifyCertificateProportion(executorOperatorSet, cert, thresholds);
            } else {
                verifier.verifyCertificate(executorOperatorSet, cert);
            }
        } else if (curveType == CurveType.ECDSA) {
            ECDSACertificate memory cert = abi.decode(executorCert, (ECDSACertificate));
            if (cert.referenceTimestamp != referenceTimestamp) revert InvalidReferenceTimestamp();
            if (cert.messageHash != resultHash) revert InvalidMessageHash();
            if (cert.sig.length == 0) revert EmptyCertificateSignature();
            IECDSACertificateVerifierCalls verifier = IECDSACertificateVerifierCalls(ECDSA_CERTIFICATE_VERIFIER);
            if (thresholdCheck) {
                (thresholdMet,) = verifier.verifyCertificateProportion(executorOperatorSet, cert, thresholds);
            } else {
                verifier.verifyCertificate(executorOperatorSet, cert);
            }
        } else {
            revert InvalidCurveType();
        }
        if (!thresholdMet) revert ThresholdNotMet();
    }

    // ---------------------------------------------------------------- views

    function getExecutorOperatorSetTaskConfig(OperatorSet memory operatorSet)
        external
        view
        returns (ExecutorOperatorSetTaskConfig memory)
    {
        return _executorOperatorSetTaskConfigs[operatorSet.key()];
    }

    function getTaskInfo(bytes32 taskHash) external view returns (Task memory task) {
        Task storage stored = _tasks[taskHash];
        task = stored;
        task.status = _taskStatus(stored);
    }

    function getTaskStatus(bytes32 taskHash) external view returns (TaskStatus) {
        return _taskStatus(_tasks[taskHash]);
    }

    function getTaskResult(bytes32 taskHash) external view returns (bytes memory) {
        Task storage task = _tasks[taskHash];
        TaskStatus status = _taskStatus(task);
        if (status != TaskStatus.VERIFIED) revert InvalidTaskStatus(TaskStatus.VERIFIED, status);
        return task.result;
    }

    function getBN254CertificateBytes(BN254Certificate memory cert) external pure returns (bytes memory) {
        return abi.encode(cert);
    }

    function getECDSACertificateBytes(ECDSACertificate memory cert) external pure returns (bytes memory) {
        return abi.encode(cert);
    }

    /// @notice Fees are inert on the devnet: no split, no collector.
    function feeSplit() external pure returns (uint16) {
        return 0;
    }

    function feeSplitCollector() external pure returns (address) {
        return address(0);
    }

    function version() external view returns (string memory) {
        return _version;
    }
}
