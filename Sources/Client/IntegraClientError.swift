import IntegraProtocol

/// Why a client operation failed. `code` is the server's stable error code when the server
/// answered with a verified error; otherwise the failure is local (connection, timeout, or a
/// reply that could not be verified and was therefore not trusted).
public struct IntegraClientError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Hashable, Sendable {
        /// The server answered with a verified error frame.
        case server
        /// A frame from the server failed verification; nothing in it was believed.
        case untrustedReply
        /// The connection could not be made or was closed.
        case connection
        /// No answer within the timeout; a transfer may or may not have been applied: retry with the same id.
        case timeout
        /// The client configuration is missing or invalid.
        case configuration
    }

    public let kind: Kind
    /// The wire code for server errors (and for local verification failures, the check that failed).
    public let code: UInt16?
    public let message: String

    public init(kind: Kind, code: UInt16? = nil, message: String) {
        self.kind = kind
        self.code = code
        self.message = message
    }

    /// The stable name of the code, or of the local failure kind.
    public var name: String {
        if let code, let known = ErrorCode(rawValue: code) { return known.name }
        if let code { return "error_\(code)" }
        switch self.kind {
        case .server: return "server_error"
        case .untrustedReply: return "untrusted_reply"
        case .connection: return "connection_failed"
        case .timeout: return "timeout"
        case .configuration: return "configuration"
        }
    }

    /// Whether sending the same request again (same transfer id) is sensible.
    public var isRetryable: Bool {
        switch self.kind {
        case .server: self.code.flatMap(ErrorCode.init(rawValue:))?.isRetryable ?? false
        case .connection, .timeout: true
        case .untrustedReply, .configuration: false
        }
    }

    public var description: String {
        switch self.kind {
        case .server: "\(self.message) (\(self.name))"
        case .untrustedReply: "reply rejected, not trusted: \(self.message)"
        case .connection: "connection failed: \(self.message)"
        case .timeout: "no answer in time: \(self.message)"
        case .configuration: self.message
        }
    }
}
