/// Stable error codes sent to peers in `error` frames. Numbers never change meaning.
///
/// 1xx: the frame or message was rejected; 2xx: authentication; 3xx: ledger rules;
/// 5xx: the server could not do it now (retry with the same transfer id is safe).
public enum ErrorCode: UInt16, Hashable, Sendable, CaseIterable {
    case malformedFrame = 100
    case unsupportedVersion = 101
    case frameTooLarge = 102
    case authenticationFailed = 103
    case replayDetected = 104
    case staleTimestamp = 105
    case outOfOrder = 106
    case unexpectedMessage = 107
    case malformedMessage = 108

    case invalidUsername = 200
    case invalidPassword = 201
    case usernameTaken = 202
    case invalidCredentials = 203
    case tooManyAttempts = 204
    /// The session ended: its absolute lifetime passed, or the password was changed elsewhere.
    case sessionEnded = 205

    case invalidAmount = 300
    case insufficientFunds = 301
    case unknownRecipient = 302
    case selfTransfer = 303
    case transferIDConflict = 304
    case invalidTransferID = 305
    case balanceOverflow = 306
    case entryNotFound = 307

    case serverBusy = 500
    case storeUnavailable = 501
    case internalError = 502
    case timeout = 503
    case rateLimited = 504
    /// The server found stored data it did not write and refuses to move money or sign until an
    /// operator has dealt with it.
    case integrityAlarm = 505

    /// A stable lowercase name, for logs and the CLI's `--json` output.
    public var name: String {
        switch self {
        case .malformedFrame: "malformed_frame"
        case .unsupportedVersion: "unsupported_version"
        case .frameTooLarge: "frame_too_large"
        case .authenticationFailed: "authentication_failed"
        case .replayDetected: "replay_detected"
        case .staleTimestamp: "stale_timestamp"
        case .outOfOrder: "out_of_order"
        case .unexpectedMessage: "unexpected_message"
        case .malformedMessage: "malformed_message"
        case .invalidUsername: "invalid_username"
        case .invalidPassword: "invalid_password"
        case .usernameTaken: "username_taken"
        case .invalidCredentials: "invalid_credentials"
        case .tooManyAttempts: "too_many_attempts"
        case .sessionEnded: "session_ended"
        case .invalidAmount: "invalid_amount"
        case .insufficientFunds: "insufficient_funds"
        case .unknownRecipient: "unknown_recipient"
        case .selfTransfer: "self_transfer"
        case .transferIDConflict: "transfer_id_conflict"
        case .invalidTransferID: "invalid_transfer_id"
        case .balanceOverflow: "balance_overflow"
        case .entryNotFound: "entry_not_found"
        case .serverBusy: "server_busy"
        case .storeUnavailable: "store_unavailable"
        case .internalError: "internal_error"
        case .timeout: "timeout"
        case .rateLimited: "rate_limited"
        case .integrityAlarm: "integrity_alarm"
        }
    }

    /// Whether the same request may succeed if sent again later.
    public var isRetryable: Bool {
        switch self {
        case .serverBusy, .storeUnavailable, .timeout, .rateLimited: true
        case .malformedFrame, .unsupportedVersion, .frameTooLarge, .authenticationFailed, .replayDetected,
             .staleTimestamp, .outOfOrder, .unexpectedMessage, .malformedMessage, .invalidUsername, .invalidPassword,
             .usernameTaken, .invalidCredentials, .tooManyAttempts, .sessionEnded, .invalidAmount, .insufficientFunds, .unknownRecipient,
             .selfTransfer, .transferIDConflict, .invalidTransferID, .balanceOverflow, .entryNotFound, .internalError,
             .integrityAlarm:
            false
        }
    }

    /// Whether the server closes the connection after sending this error: the stream or the
    /// session can no longer be trusted.
    public var closesConnection: Bool {
        switch self {
        case .malformedFrame, .unsupportedVersion, .frameTooLarge, .authenticationFailed, .replayDetected,
             .staleTimestamp, .outOfOrder, .unexpectedMessage, .malformedMessage, .tooManyAttempts, .sessionEnded, .internalError:
            true
        case .invalidUsername, .invalidPassword, .usernameTaken, .invalidCredentials, .invalidAmount,
             .insufficientFunds, .unknownRecipient, .selfTransfer, .transferIDConflict, .invalidTransferID,
             .balanceOverflow, .entryNotFound, .serverBusy, .storeUnavailable, .timeout, .rateLimited, .integrityAlarm:
            false
        }
    }
}

/// A rejection with a stable code and a message that is safe to show to the peer.
public struct ProtocolError: Error, Hashable, Sendable, CustomStringConvertible {
    public let code: ErrorCode
    public let message: String

    public init(_ code: ErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(self.code.name) (\(self.code.rawValue)): \(self.message)" }
}
