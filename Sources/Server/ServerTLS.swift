import Crypto
import Foundation
import IntegraFiles
public import IntegraProtocol
public import NIOSSL
import SwiftASN1
import X509

/// The server's TLS 1.3 identity: a certificate and private key, created self-signed in the data
/// directory on first start (`tls-certificate.pem`, and `tls-key.pem` with mode 0600) unless the
/// operator names their own. Clients pin the SHA-256 of the certificate's public key.
public struct ServerTLS: Sendable {
    public let context: NIOSSLContext
    /// SHA-256 of the leaf certificate's DER SubjectPublicKeyInfo: the pin in `client.json`.
    public let publicKeySHA256: [UInt8]

    static let certificateFile = "tls-certificate.pem"
    static let keyFile = "tls-key.pem"

    /// The files of the certificate and key `load` serves: the operator's, or the data directory's.
    public static func paths(_ configuration: ServerConfiguration) -> (certificate: String, key: String) {
        (configuration.tlsCertificatePath ?? "\(configuration.dataDirectory)/\(Self.certificateFile)",
         configuration.tlsKeyPath ?? "\(configuration.dataDirectory)/\(Self.keyFile)")
    }

    /// Loads the configured certificate and key, or those of the data directory, creating a
    /// self-signed pair there if none exists.
    public static func load(_ configuration: ServerConfiguration) throws(ConfigurationError) -> ServerTLS {
        let certificatePath: String
        let keyPath: String
        let keyBytes: [UInt8]
        switch (configuration.tlsCertificatePath, configuration.tlsKeyPath) {
        case (let certificate?, let key?):
            (certificatePath, keyPath) = (certificate, key)
            keyBytes = try Self.readOperatorKey(key)
        case (nil, nil):
            certificatePath = "\(configuration.dataDirectory)/\(Self.certificateFile)"
            keyPath = "\(configuration.dataDirectory)/\(Self.keyFile)"
            let haveCertificate = FileManager.default.fileExists(atPath: certificatePath)
            let haveKey = FileManager.default.fileExists(atPath: keyPath)
            guard haveCertificate == haveKey else {
                throw ConfigurationError("the data directory has only one of \(Self.certificateFile) and \(Self.keyFile)")
            }
            if !haveCertificate {
                try Self.createSelfSigned(certificatePath: certificatePath, keyPath: keyPath, host: configuration.host)
            }
            // The key Integra made is a secret file like the deployment keys: a regular file,
            // never through a link, readable by this user alone.
            do {
                guard let data = try SecretFile.read(keyPath) else { throw ConfigurationError("\(keyPath) is missing") }
                keyBytes = Array(data)
            } catch let error as ConfigurationError {
                throw error
            } catch {
                throw ConfigurationError("cannot read \(keyPath): \(error)")
            }
        default:
            throw ConfigurationError("give both a TLS certificate and its key, or neither")
        }
        return try Self.load(certificatePath: certificatePath, keyPath: keyPath, keyBytes: keyBytes)
    }

    /// An operator's key (`--tls-key`): it may be a link (certificate tools keep keys behind
    /// links), but the file it names must be a regular file that no other user may read and that
    /// only its owner may change.
    static func readOperatorKey(_ path: String) throws(ConfigurationError) -> [UInt8] {
        var status = stat()
        guard stat(path, &status) == 0 else { throw ConfigurationError("cannot read the TLS key \(path): \(String(cString: strerror(errno)))") }
        guard status.st_mode & S_IFMT == S_IFREG else { throw ConfigurationError("the TLS key \(path) is not a regular file") }
        guard status.st_mode & 0o026 == 0 else {
            throw ConfigurationError("the TLS key \(path) may be read by every user or changed by others; run `chmod 600 \(path)` (or 640 for a group that must read it)")
        }
        // Whoever owns the key, or may rename entries in its directory, can put their own key in
        // its place before the next start.
        let owner = geteuid()
        guard status.st_uid == owner || status.st_uid == 0 else {
            throw ConfigurationError("the TLS key \(path) belongs to another user (uid \(status.st_uid)); it must belong to the server's user or to root")
        }
        guard let resolved = realpath(path, nil) else { throw ConfigurationError("cannot resolve the TLS key \(path): \(String(cString: strerror(errno)))") }
        let directory = (String(cString: resolved) as NSString).deletingLastPathComponent
        free(resolved)
        var folder = stat()
        guard stat(directory, &folder) == 0 else { throw ConfigurationError("cannot read the directory of the TLS key \(directory)") }
        guard folder.st_uid == owner || folder.st_uid == 0 else {
            throw ConfigurationError("the directory \(directory) of the TLS key belongs to another user (uid \(folder.st_uid)), who could replace the key")
        }
        guard folder.st_mode & 0o022 == 0 || folder.st_mode & S_ISVTX != 0 else {
            throw ConfigurationError("other users may replace files in \(directory), the TLS key's directory; run `chmod go-w \(directory)`")
        }
        // A key is a few kilobytes; anything past a MiB is not one, and is not read whole.
        guard status.st_size <= 1 << 20, let data = FileManager.default.contents(atPath: path), data.count <= 1 << 20 else {
            throw ConfigurationError("cannot read the TLS key \(path)")
        }
        return Array(data)
    }

    static func load(certificatePath: String, keyPath: String, keyBytes: [UInt8]) throws(ConfigurationError) -> ServerTLS {
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(certificatePath)
            guard let leaf = chain.first else { throw ConfigurationError("\(certificatePath) holds no certificate") }
            let key = try NIOSSLPrivateKey(bytes: keyBytes, format: .pem)
            var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
            tls.minimumTLSVersion = .tlsv13
            tls.maximumTLSVersion = .tlsv13
            let pin = Array(SHA256.hash(data: try leaf.extractPublicKey().toSPKIBytes()))
            return ServerTLS(context: try NIOSSLContext(configuration: tls), publicKeySHA256: pin)
        } catch let error as ConfigurationError {
            throw error
        } catch {
            throw ConfigurationError("cannot load the TLS certificate \(certificatePath) and key \(keyPath): \(error)")
        }
    }

    /// A P-256 key and a self-signed certificate naming `localhost`, the loopback addresses and
    /// the listening host. Valid for ten years: clients pin the key, not a chain of trust.
    static func createSelfSigned(certificatePath: String, keyPath: String, host: String) throws(ConfigurationError) {
        do {
            let key = P256.Signing.PrivateKey()
            let name = try DistinguishedName {
                OrganizationName("Integra")
                CommonName("Integra server")
            }
            var names: [GeneralName] = [.dnsName("localhost"), .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1]))]
            if let address = Self.ipAddressBytes(host) {
                if address != [127, 0, 0, 1] { names.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(address)))) }
            } else if host != "localhost" {
                names.append(.dnsName(host))
            }
            let now = Date()
            let certificate = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(),
                publicKey: Certificate.PublicKey(key.publicKey),
                notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(10 * 365 * 86_400),
                issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.notCertificateAuthority)
                    Critical(KeyUsage(digitalSignature: true))
                    try ExtendedKeyUsage([.serverAuth])
                    SubjectAlternativeNames(names)
                },
                issuerPrivateKey: Certificate.PrivateKey(key))
            try SecretFile.write(Data(key.pemRepresentation.utf8), to: keyPath)
            try Data(try certificate.serializeAsPEM().pemString.utf8).write(to: URL(fileURLWithPath: certificatePath), options: .atomic)
        } catch let error as ConfigurationError {
            throw error
        } catch {
            throw ConfigurationError("cannot create a TLS certificate: \(error)")
        }
    }

    /// The bytes of an IPv4 or IPv6 literal, or nil for a host name.
    static func ipAddressBytes(_ host: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }
}
