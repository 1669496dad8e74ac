public import IntegraMariaDBStore
public import IntegraProtocol
import Foundation

/// Which store to use, parsed from `--database`.
public enum DatabaseLocation: Hashable, Sendable {
    case sqlite(path: String)
    case mariadb(MariaDBConfiguration)

    /// Parses `sqlite:PATH`, `sqlite://PATH`, a plain file path, or
    /// `mariadb://USER[:PASSWORD]@HOST[:PORT]/DATABASE` (also `mysql://`). A password missing
    /// from the URL comes from `password` (the environment or a file).
    public static func parse(_ text: String, password: String? = nil) throws(ConfigurationError) -> DatabaseLocation {
        if text.hasPrefix("sqlite://") { return .sqlite(path: String(text.dropFirst("sqlite://".count))) }
        if text.hasPrefix("sqlite:") { return .sqlite(path: String(text.dropFirst("sqlite:".count))) }
        for scheme in ["mariadb://", "mysql://"] where text.hasPrefix(scheme) {
            return .mariadb(try MariaDBConfiguration.parse(String(text.dropFirst(scheme.count)), password: password))
        }
        guard !text.contains("://"), !text.isEmpty else {
            throw ConfigurationError("database must be sqlite:PATH, a file path or mariadb://USER@HOST:PORT/DATABASE")
        }
        return .sqlite(path: text)
    }

    /// The store used when none is named: `integra.sqlite` in the data directory.
    public static func defaultStore(inDataDirectory directory: String) -> DatabaseLocation {
        .sqlite(path: "\(directory)/integra.sqlite")
    }

    /// A description without secrets, for logs.
    public var redacted: String {
        switch self {
        case .sqlite(let path): "sqlite:\(path)"
        case .mariadb(let location): "mariadb://\(location.user)@\(location.host):\(location.port)/\(location.database) (tls: \(location.tls.mode.rawValue))"
        }
    }
}

extension DatabaseLocation {
    /// Sets how the connection to MariaDB is protected, from `--database-tls` and `--database-ca`
    /// (nil: not given). Without either the location is unchanged; without a mode it keeps its default (`required` off loopback).
    /// Refused for SQLite, for a verifying mode without a CA file, and for a CA file without one.
    public mutating func setTLS(mode: DatabaseTLS.Mode?, certificateAuthorityPath: String?) throws(ConfigurationError) {
        guard mode != nil || certificateAuthorityPath != nil else { return }
        guard case .mariadb(var location) = self else {
            throw ConfigurationError("--database-tls and --database-ca apply to a MariaDB store only; this store is SQLite")
        }
        let wanted = mode ?? location.tls.mode
        switch wanted {
        case .disabled, .required:
            guard certificateAuthorityPath == nil else {
                throw ConfigurationError("--database-ca is used only by --database-tls verify-ca or verify-identity, not \(wanted.rawValue)")
            }
            location.tls = wanted == .disabled ? .disabled : .required
        case .verifyCA, .verifyIdentity:
            guard let path = certificateAuthorityPath else {
                throw ConfigurationError("--database-tls \(wanted.rawValue) needs --database-ca FILE, the PEM certificate of the CA that signed MariaDB's certificate")
            }
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw ConfigurationError("cannot read the database CA file \(path)")
            }
            location.tls = wanted == .verifyCA ? .verifyCA(certificateAuthorityPath: path) : .verifyIdentity(certificateAuthorityPath: path)
        }
        self = .mariadb(location)
    }
}

extension MariaDBConfiguration {
    /// The TLS mode used when the operator names none: encryption for every host that is not
    /// loopback (127.x, ::1, localhost), clear text on loopback, where no network is crossed.
    public static func defaultTLS(host: String) -> DatabaseTLS {
        LoopbackAddress.contains(host) ? .disabled : .required
    }

    static func parse(_ rest: String, password fallbackPassword: String?) throws(ConfigurationError) -> MariaDBConfiguration {
        let usage = "MariaDB URL must be mariadb://USER[:PASSWORD]@HOST[:PORT]/DATABASE"
        guard let at = rest.lastIndex(of: "@"), let slash = rest[at...].firstIndex(of: "/") else { throw ConfigurationError(usage) }
        let credentials = rest[..<at]
        let hostPort = String(rest[rest.index(after: at)..<slash])
        let database = String(rest[rest.index(after: slash)...])
        let user: String
        var password: String?
        if let colon = credentials.firstIndex(of: ":") {
            user = String(credentials[..<colon])
            password = String(credentials[credentials.index(after: colon)...]).removingPercentEncoding
        } else {
            user = String(credentials)
        }
        let (host, port) = hostPort.contains(":") ? try ServerAddress.parse(hostPort) : (hostPort, 3306)
        guard let decodedUser = user.removingPercentEncoding, !decodedUser.isEmpty, !host.isEmpty, !database.isEmpty,
              database.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" })
        else {
            throw ConfigurationError(usage)
        }
        guard let password = password ?? fallbackPassword else {
            throw ConfigurationError("no MariaDB password: put it in the URL, in $INTEGRA_DATABASE_PASSWORD or in --database-password-file")
        }
        return MariaDBConfiguration(host: host, port: port, user: decodedUser, password: password, database: database, tls: Self.defaultTLS(host: host))
    }
}

/// Loopback hosts: `localhost`, `::1` or an IPv4 literal in 127.0.0.0/8 (a DNS name such as
/// `127.example.com` is not). Traffic to them never crosses a network.
public enum LoopbackAddress {
    public static func contains(_ host: String) -> Bool {
        if host == "localhost" || host == "::1" { return true }
        var address = in_addr()
        guard inet_pton(AF_INET, host, &address) == 1 else { return false }
        return UInt32(bigEndian: address.s_addr) >> 24 == 127
    }
}
