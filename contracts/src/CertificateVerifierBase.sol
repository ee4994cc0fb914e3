// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import "./Types.sol";

/// @title What both certificate verifiers share (EigenLayer's IBaseCertificateVerifier views).
abstract contract CertificateVerifierBase {
    using OperatorSetLib for OperatorSet;

    error OnlyTableUpdater();
    error TableUpdateStale();
    error ArrayLengthMismatch();
    error CertificateStale();
    error ReferenceTimestampDoesNotExist();
    error VerificationFailed();

    uint16 internal constant BPS_DENOMINATOR = 10000;

    address public immutable operatorTableUpdater;
    string internal _version;

    mapping(bytes32 => uint32) internal _latestReferenceTimestamps;
    mapping(bytes32 => address) internal _operatorSetOwners;
    mapping(bytes32 => uint32) internal _maxStalenessPeriods;
    mapping(bytes32 => mapping(uint32 => bool)) internal _referenceTimestampsSet;

    constructor(address _operatorTableUpdater, string memory version_) {
        operatorTableUpdater = _operatorTableUpdater;
        _version = version_;
    }

    modifier onlyTableUpdater() {
        if (msg.sender != operatorTableUpdater) revert OnlyTableUpdater();
        _;
    }

    function version() external view returns (string memory) {
        return _version;
    }

    /// @notice The first two characters of the version, e.g. "v1" (EigenLayer's SemVerMixin).
    function _majorVersion() internal view returns (string memory) {
        bytes memory v = bytes(_version);
        return string(abi.encodePacked(v[0], v[1]));
    }

    function _recordTable(OperatorSet memory operatorSet, uint32 referenceTimestamp, OperatorSetConfig memory config)
        internal
    {
        bytes32 key = operatorSet.key();
        if (referenceTimestamp <= _latestReferenceTimestamps[key]) revert TableUpdateStale();
        _latestReferenceTimestamps[key] = referenceTimestamp;
        _operatorSetOwners[key] = config.owner;
        _maxStalenessPeriods[key] = config.maxStalenessPeriod;
        _referenceTimestampsSet[key][referenceTimestamp] = true;
    }

    function _checkReferenceTimestamp(bytes32 key, uint32 referenceTimestamp) internal view {
        uint32 maxStaleness = _maxStalenessPeriods[key];
        if (maxStaleness != 0 && block.timestamp > uint256(referenceTimestamp) + maxStaleness) {
            revert CertificateStale();
        }
        if (!_referenceTimestampsSet[key][referenceTimestamp]) revert ReferenceTimestampDoesNotExist();
    }

    function _meetsProportion(
        uint256[] memory signedStakes,
        uint256[] memory totalStakes,
        uint16[] memory thresholds
    ) internal pure returns (bool) {
        if (signedStakes.length != thresholds.length) revert ArrayLengthMismatch();
        for (uint256 i = 0; i < signedStakes.length; i++) {
            if (signedStakes[i] < (totalStakes[i] * thresholds[i]) / BPS_DENOMINATOR) {
                return false;
            }
        }
        return true;
    }

    function _meetsNominal(uint256[] memory signedStakes, uint256[] memory thresholds) internal pure returns (bool) {
        if (signedStakes.length != thresholds.length) revert ArrayLengthMismatch();
        for (uint256 i = 0; i < signedStakes.length; i++) {
            if (signedStakes[i] < thresholds[i]) {
                return false;
            }
        }
        return true;
    }

    function getOperatorSetOwner(OperatorSet memory operatorSet) external view returns (address) {
        return _operatorSetOwners[operatorSet.key()];
    }

    function maxOperatorTableStaleness(OperatorSet memory operatorSet) external view returns (uint32) {
        return _maxStalenessPeriods[operatorSet.key()];
    }

    function latestReferenceTimestamp(OperatorSet memory operatorSet) external view returns (uint32) {
        return _latestReferenceTimestamps[operatorSet.key()];
    }

    function isReferenceTimestampSet(OperatorSet memory operatorSet, uint32 referenceTimestamp)
        external
        view
        returns (bool)
    {
        return _referenceTimestampsSet[operatorSet.key()][referenceTimestamp];
    }
}
