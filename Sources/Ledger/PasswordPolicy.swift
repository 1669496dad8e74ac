/// The rules a new password must meet before it is hashed with bcrypt.
///
/// bcrypt reads only the first 72 bytes of a password, so longer passwords are rejected rather
/// than silently truncated; NUL bytes are rejected because bcrypt stops at the first one.
public struct PasswordPolicy: Hashable, Sendable {
    /// The shortest password accepted, in UTF-8 bytes.
    public var minimumBytes: Int
    /// The longest password accepted, in UTF-8 bytes (never more than bcrypt's 72).
    public var maximumBytes: Int

    /// bcrypt's own limit.
    public static let bcryptMaximumBytes = 72

    public init(minimumBytes: Int = 12, maximumBytes: Int = PasswordPolicy.bcryptMaximumBytes) {
        precondition(minimumBytes >= 1 && minimumBytes <= maximumBytes && maximumBytes <= Self.bcryptMaximumBytes)
        self.minimumBytes = minimumBytes
        self.maximumBytes = maximumBytes
    }

    /// Checks a proposed password; the error text tells the customer what to change.
    public func validate(_ password: String) throws(LedgerError) {
        let length = password.utf8.count
        guard length >= self.minimumBytes else {
            throw .invalidPassword("password must be at least \(self.minimumBytes) bytes")
        }
        guard length <= self.maximumBytes else {
            throw .invalidPassword("password must be at most \(self.maximumBytes) bytes")
        }
        guard !password.utf8.contains(0) else { throw .invalidPassword("password must not contain NUL") }
    }

    /// Whether a password offered at login can possibly be right; longer ones are never hashed.
    public func isPlausible(_ password: String) -> Bool {
        let length = password.utf8.count
        return length >= 1 && length <= Self.bcryptMaximumBytes && !password.utf8.contains(0)
    }
}
