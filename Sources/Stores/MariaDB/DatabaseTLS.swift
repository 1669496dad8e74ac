/// How a connection to MariaDB is protected (`--database-tls`, `--database-ca`).
///
/// A plain value, present in every build so that the server's configuration can carry it; only
/// the MariaDB trait's `MariaDBConnection` acts on it. A verifying mode cannot exist without the
/// CA file it verifies against.
public enum DatabaseTLS: Hashable, Sendable {
    /// Clear text: whoever is on the path reads and can change balances, password hashes and seals.
    case disabled
    /// Encrypted, but the server's certificate is not checked: stops eavesdroppers, not an attacker
    /// who can place himself between Integra and MariaDB.
    case required
    /// Encrypted, and the server's certificate chains to the CA in this PEM file; its name is not checked.
    case verifyCA(certificateAuthorityPath: String)
    /// `verifyCA`, and the certificate also names the host Integra connects to.
    case verifyIdentity(certificateAuthorityPath: String)

    /// The operator's names for the modes, as `--database-tls` takes them.
    public enum Mode: String, CaseIterable, Hashable, Sendable {
        case disabled
        case required
        case verifyCA = "verify-ca"
        case verifyIdentity = "verify-identity"

        /// Whether the mode checks the server's certificate (and so needs a CA file).
        public var verifiesCertificate: Bool {
            switch self {
            case .disabled, .required: false
            case .verifyCA, .verifyIdentity: true
            }
        }
    }

    public var mode: Mode {
        switch self {
        case .disabled: .disabled
        case .required: .required
        case .verifyCA: .verifyCA
        case .verifyIdentity: .verifyIdentity
        }
    }

    /// The CA file of a verifying mode; nil otherwise.
    public var certificateAuthorityPath: String? {
        switch self {
        case .disabled, .required: nil
        case .verifyCA(let path), .verifyIdentity(let path): path
        }
    }

    /// Whether the session must be encrypted.
    public var isEncrypted: Bool { self.mode != .disabled }
}
