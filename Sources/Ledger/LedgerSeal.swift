public import Crypto

/// Makes stored records tamper-evident.
///
/// Ledger entries form a hash chain: each entry's chain hash is SHA-256 over the previous chain
/// hash and the entry's canonical encoding, so deleting, inserting or reordering entries breaks
/// the chain. Every entry, account and user row also carries an HMAC-SHA256 under a key derived
/// from the deployment's storage key, which lives in a key file, never in the database: someone
/// with database access can edit rows but cannot make their MACs right.
public struct LedgerSeal: Sendable {
    private let key: SymmetricKey

    /// The chain hash "before" the first entry.
    public static let genesisHash = [UInt8](repeating: 0, count: 32)

    public init(storageKey: SymmetricKey) {
        self.key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: storageKey, salt: Array("integra/1 storage".utf8),
            info: Array("integra/1 row seal".utf8), outputByteCount: 32)
    }

    /// SHA-256(previous chain hash ‖ SHA-256(canonical encoding of the entry)).
    ///
    /// Hashing each entry first means a chain segment can be proven with 32-byte digests alone,
    /// without revealing other customers' entries.
    public static func chainHash(previous: [UInt8], entry: LedgerEntry) -> [UInt8] {
        Self.chainHash(previous: previous, entryDigest: Self.entryDigest(entry))
    }

    /// SHA-256 of the entry's canonical encoding.
    public static func entryDigest(_ entry: LedgerEntry) -> [UInt8] {
        Array(SHA256.hash(data: Self.encoding(of: entry)))
    }

    /// One link of the chain, from the previous chain hash and an entry digest.
    public static func chainHash(previous: [UInt8], entryDigest: [UInt8]) -> [UInt8] {
        precondition(previous.count == 32 && entryDigest.count == 32)
        var hash = SHA256()
        hash.update(data: previous)
        hash.update(data: entryDigest)
        return Array(hash.finalize())
    }

    /// The canonical bytes of an entry: every field, fixed-width big-endian integers and
    /// length-prefixed UTF-8 strings, after a domain label.
    public static func encoding(of entry: LedgerEntry) -> [UInt8] {
        var bytes = Array("integra/1 entry".utf8)
        bytes.reserveCapacity(160)
        Self.append(entry.position, to: &bytes)
        Self.append(entry.kind.rawValue, to: &bytes)
        Self.append(entry.transferID.value, to: &bytes)
        Self.append(entry.fromUserID, to: &bytes)
        Self.append(entry.from.canonical, to: &bytes)
        Self.append(entry.toUserID, to: &bytes)
        Self.append(entry.to.canonical, to: &bytes)
        Self.append(entry.amount.cents, to: &bytes)
        Self.append(entry.fromBalanceAfterCents, to: &bytes)
        Self.append(entry.toBalanceAfterCents, to: &bytes)
        Self.append(entry.createdAtMs, to: &bytes)
        return bytes
    }

    /// The MAC stored with an entry: over its position and chain hash (which covers its content).
    public func entryMAC(position: Int64, chainHash: [UInt8]) -> [UInt8] {
        var bytes = Array("integra/1 entry mac".utf8)
        Self.append(position, to: &bytes)
        bytes.append(contentsOf: chainHash)
        return self.mac(bytes)
    }

    /// The MAC stored with an account row.
    public func accountMAC(userID: Int64, balanceCents: Int64) -> [UInt8] {
        var bytes = Array("integra/1 account".utf8)
        Self.append(userID, to: &bytes)
        Self.append(balanceCents, to: &bytes)
        return self.mac(bytes)
    }

    /// The MAC stored with a user row: a swapped password hash or name breaks it.
    public func userMAC(userID: Int64, username: String, passwordHash: String) -> [UInt8] {
        var bytes = Array("integra/1 user".utf8)
        Self.append(userID, to: &bytes)
        Self.append(username, to: &bytes)
        Self.append(passwordHash, to: &bytes)
        return self.mac(bytes)
    }

    /// Constant-time check of a stored MAC.
    public func isValid(_ stored: [UInt8]?, expected: [UInt8]) -> Bool {
        guard let stored, stored.count == expected.count else { return false }
        var difference: UInt8 = 0
        for index in stored.indices { difference |= stored[index] ^ expected[index] }
        return difference == 0
    }

    private func mac(_ bytes: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: bytes, using: self.key))
    }

    private static func append(_ value: Int64, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    private static func append(_ text: String, to bytes: inout [UInt8]) {
        let utf8 = Array(text.utf8)
        precondition(utf8.count <= Int(UInt16.max))
        withUnsafeBytes(of: UInt16(utf8.count).bigEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: utf8)
    }
}
