import Foundation
import IntegraStoreFactory

/// Where and how the admin listener serves: `--admin-listen` and `--admin-token-file`.
///
/// On a loopback address it may serve plain HTTP without a token (an operator on the machine, a
/// local Prometheus). Anywhere else it needs a token and TLS: metrics and alarms tell an attacker
/// much about a bank's server.
public struct AdminConfiguration: Sendable {
    public static let defaultListen = "127.0.0.1:9464"

    public var host: String
    public var port: Int
    public var token: AdminToken?
    /// PEM certificate chain and key for HTTPS; nil serves plain HTTP.
    public var tlsCertificatePath: String?
    public var tlsKeyPath: String?

    public init(host: String = "127.0.0.1", port: Int = 9464, token: AdminToken? = nil, tlsCertificatePath: String? = nil, tlsKeyPath: String? = nil) {
        self.host = host
        self.port = port
        self.token = token
        self.tlsCertificatePath = tlsCertificatePath
        self.tlsKeyPath = tlsKeyPath
    }

    /// Whether the listener is reachable from this machine only.
    public var isLoopback: Bool { LoopbackAddress.contains(self.host) }

    public var usesTLS: Bool { self.tlsCertificatePath != nil && self.tlsKeyPath != nil }

    /// Refuses a listener that others could reach without a token or without TLS.
    public func validate() throws(AdminConfigurationError) {
        guard (1...65_535).contains(self.port) || self.port == 0 else {
            throw AdminConfigurationError("--admin-listen needs a port from 1 to 65535")
        }
        guard (self.tlsCertificatePath == nil) == (self.tlsKeyPath == nil) else {
            throw AdminConfigurationError("the admin listener needs both a TLS certificate and its key, or neither")
        }
        if !self.isLoopback {
            guard self.token != nil else {
                throw AdminConfigurationError("--admin-listen \(self.host) is not a loopback address: give --admin-token-file (and the listener serves TLS)")
            }
            guard self.usesTLS else {
                throw AdminConfigurationError("--admin-listen \(self.host) is not a loopback address: the admin listener must serve TLS")
            }
        }
    }

    /// Reads a token file: a regular file that only its owner may read.
    public static func readToken(path: String) throws(AdminConfigurationError) -> AdminToken {
        var status = stat()
        guard stat(path, &status) == 0 else { throw AdminConfigurationError("cannot read the admin token file \(path)") }
        guard status.st_mode & S_IFMT == S_IFREG else { throw AdminConfigurationError("the admin token file \(path) is not a regular file") }
        guard status.st_mode & 0o077 == 0 else {
            throw AdminConfigurationError("the admin token file \(path) may be read by other users: chmod 600 it")
        }
        guard let data = FileManager.default.contents(atPath: path), data.count <= AdminToken.maximumBytes + 64,
              let text = String(data: data, encoding: .utf8)
        else {
            throw AdminConfigurationError("cannot read the admin token file \(path)")
        }
        return try AdminToken(fileText: text)
    }
}
