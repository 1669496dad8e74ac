public import Crypto
public import IntegraProtocol

/// Device tokens (OWASP's "device cookie" against account lockout): after a successful login the
/// server gives the client a token bound to the account; a later login that presents a valid
/// token for the account it names is throttled by that token alone, so a storm of wrong
/// passwords from elsewhere can't lock the owner out. Attempts without a valid token keep the
/// account-wide and address limits.
///
/// A token is `version (0x01) || u64 issued_at_ms || 16 random bytes || MAC[0..<16]` (41 bytes),
/// where MAC = HMAC-SHA256(device-token key, "integra/1 device token" || str canonical name ||
/// the first 25 bytes). The key is HKDF-SHA256(storage key, salt "integra/1 storage", info
/// "integra/1 device token"): only this deployment can issue one, and a token names one account.
public struct DeviceTokens: Sendable {
    private let key: SymmetricKey
    /// How long a token is honoured after it was issued.
    public let lifetimeMs: Int64

    static let version: UInt8 = 1
    static let byteCount = 41
    private static let label = Array("integra/1 device token".utf8)

    public init(storageKey: SymmetricKey, lifetimeMs: Int64 = 180 * 86_400_000) {
        self.key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: storageKey, salt: Array("integra/1 storage".utf8), info: Array("integra/1 device token".utf8), outputByteCount: 32)
        self.lifetimeMs = lifetimeMs
    }

    /// A new token for the account with this canonical name.
    public func issue(canonicalName: String, nowMs: Int64, random: inout some RandomSource) -> [UInt8] {
        var token = [Self.version]
        withUnsafeBytes(of: nowMs.bigEndian) { token.append(contentsOf: $0) }
        token.append(contentsOf: random.bytes(16))
        token.append(contentsOf: self.mac(canonicalName: canonicalName, body: token))
        return token
    }

    /// The token's identity (its random part, hex) if it is valid, unexpired and for this
    /// account; nil otherwise. Compared in constant time.
    public func identify(_ token: [UInt8], canonicalName: String, nowMs: Int64) -> String? {
        guard token.count == Self.byteCount, token[0] == Self.version else { return nil }
        let body = Array(token[0..<25])
        let expected = self.mac(canonicalName: canonicalName, body: body)
        var difference: UInt8 = 0
        for (stored, computed) in zip(token[25...], expected) { difference |= stored ^ computed }
        guard difference == 0 else { return nil }
        var issuedAtMs: Int64 = 0
        for byte in token[1..<9] { issuedAtMs = issuedAtMs << 8 | Int64(byte) }
        guard issuedAtMs <= nowMs, nowMs - issuedAtMs <= self.lifetimeMs else { return nil }
        return token[9..<25].hexString
    }

    private func mac(canonicalName: String, body: [UInt8]) -> [UInt8] {
        var authenticator = HMAC<SHA256>(key: self.key)
        authenticator.update(data: Self.label)
        let name = Array(canonicalName.utf8.prefix(Int(UInt16.max)))
        authenticator.update(data: [UInt8(name.count >> 8), UInt8(name.count & 0xFF)])
        authenticator.update(data: name)
        authenticator.update(data: body)
        return Array(Array(authenticator.finalize())[0..<16])
    }
}
