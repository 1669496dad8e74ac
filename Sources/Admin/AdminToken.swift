import Crypto
import Foundation

/// The admin listener's bearer token, read from `--admin-token-file`.
///
/// Requests carry it as `Authorization: Bearer TOKEN`. Only its SHA-256 is kept, and a presented
/// token is compared digest to digest in constant time, so the comparison's timing tells nothing
/// about how much of a guess was right.
public struct AdminToken: Sendable {
    /// Tokens shorter than this are refused: an admin token must not be guessable.
    public static let minimumBytes = 16
    public static let maximumBytes = 4096

    private let digest: SHA256.Digest

    /// A token from the text of a token file (surrounding whitespace and newlines ignored).
    public init(fileText: String) throws(AdminConfigurationError) {
        let token = fileText.trimmingCharacters(in: .whitespacesAndNewlines)
        guard token.utf8.count >= Self.minimumBytes, token.utf8.count <= Self.maximumBytes else {
            throw AdminConfigurationError("the admin token must be \(Self.minimumBytes) to \(Self.maximumBytes) bytes")
        }
        guard token.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) else {
            throw AdminConfigurationError("the admin token must be printable ASCII without spaces")
        }
        self.digest = SHA256.hash(data: Data(token.utf8))
    }

    /// Whether an `Authorization` header value presents this token.
    public func accepts(authorization: String?) -> Bool {
        guard let authorization, authorization.utf8.count <= Self.maximumBytes + 16 else { return false }
        let prefix = "Bearer "
        guard authorization.hasPrefix(prefix) else { return false }
        let presented = SHA256.hash(data: Data(authorization.dropFirst(prefix.count).utf8))
        return presented == self.digest
    }
}

/// A mistake in the admin listener's options: one line for the operator.
public struct AdminConfigurationError: Error, CustomStringConvertible, Sendable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
