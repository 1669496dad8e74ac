public import Crypto

/// Makes stored records tamper-evident.
///
/// Ledger entries form a hash chain: each entry's chain hash is SHA-256 over the previous chain
/// hash and the entry's canonical encoding, so deleting, inserting or reordering entries breaks
/// the chain. Every entry, account and user row also carries an HMAC-SHA256 under a key derived
/// from the deployment's storage key, which lives in a key file, never in the database: someone
/// with database access can edit rows but cannot make their MACs right.
public struct LedgerSeal: Sendable {
    /// HMAC-SHA256 keyed with the row-seal key, before any message: every MAC starts from a copy,
    /// so the key is not processed again for each row.
    private let keyedMAC: HMAC<SHA256>
    /// The row-seal key (what `keyedMAC` is keyed with), for the verifier's own hasher.
    package let key: SymmetricKey

    /// The chain hash "before" the first entry.
    public static let genesisHash = [UInt8](repeating: 0, count: 32)
    /// Bytes in a chain hash, an entry digest and a MAC.
    public static let hashByteCount = 32
    /// The longest string an entry's canonical encoding holds: it stores lengths in 16 bits.
    public static let maximumFieldBytes = Int(UInt16.max)

    public init(storageKey: SymmetricKey) {
        let key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: storageKey, salt: Array("integra/1 storage".utf8),
            info: Array("integra/1 row seal".utf8), outputByteCount: 32)
        self.key = key
        self.keyedMAC = HMAC<SHA256>(key: key)
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
        var transferID = entry.transferID.value
        var from = entry.from.canonical
        var to = entry.to.canonical
        return transferID.withUTF8 { transferID in
            from.withUTF8 { from in
                to.withUTF8 { to in
                    let fields = EntryFields(
                        position: entry.position, kind: entry.kind.rawValue, transferID: transferID,
                        fromUserID: entry.fromUserID, from: from, toUserID: entry.toUserID, to: to,
                        amountCents: entry.amount.cents, fromBalanceAfterCents: entry.fromBalanceAfterCents,
                        toBalanceAfterCents: entry.toBalanceAfterCents, createdAtMs: entry.createdAtMs)
                    return [UInt8](unsafeUninitializedCapacity: fields.encodedByteCount) { bytes, count in
                        fields.encode(into: UnsafeMutableRawBufferPointer(bytes))
                        count = fields.encodedByteCount
                    }
                }
            }
        }
    }

    /// An entry's fields as its encoding needs them; the strings are UTF-8 bytes that must stay
    /// valid while it is used.
    package struct EntryFields {
        var position: Int64
        var kind: Int64
        var transferID: UnsafeBufferPointer<UInt8>
        var fromUserID: Int64
        var from: UnsafeBufferPointer<UInt8>
        var toUserID: Int64
        var to: UnsafeBufferPointer<UInt8>
        var amountCents: Int64
        var fromBalanceAfterCents: Int64
        var toBalanceAfterCents: Int64
        var createdAtMs: Int64

        private static let label = Array("integra/1 entry".utf8)

        /// Bytes in the canonical encoding: the label, eight integers and three length-prefixed strings.
        package var encodedByteCount: Int { Self.label.count + 8 * 8 + 3 * 2 + self.transferID.count + self.from.count + self.to.count }

        /// Writes the canonical encoding (see `LedgerSeal.encoding(of:)`) into `bytes`, which must
        /// have exactly `encodedByteCount` bytes.
        package func encode(into bytes: UnsafeMutableRawBufferPointer) {
            precondition(bytes.count == self.encodedByteCount)
            var offset = 0
            func write(_ value: Int64) {
                bytes.storeBytes(of: value.bigEndian, toByteOffset: offset, as: Int64.self)
                offset += 8
            }
            func write(_ utf8: UnsafeBufferPointer<UInt8>) {
                precondition(utf8.count <= Int(UInt16.max))
                bytes.storeBytes(of: UInt16(utf8.count).bigEndian, toByteOffset: offset, as: UInt16.self)
                offset += 2
                UnsafeMutableRawBufferPointer(rebasing: bytes[offset..<offset + utf8.count]).copyMemory(from: UnsafeRawBufferPointer(utf8))
                offset += utf8.count
            }
            Self.label.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: bytes[..<$0.count]).copyMemory(from: $0) }
            offset = Self.label.count
            write(self.position)
            write(self.kind)
            write(self.transferID)
            write(self.fromUserID)
            write(self.from)
            write(self.toUserID)
            write(self.to)
            write(self.amountCents)
            write(self.fromBalanceAfterCents)
            write(self.toBalanceAfterCents)
            write(self.createdAtMs)
            precondition(offset == bytes.count)
        }
    }

    /// An entry's fields for its encoding, for the verifier, which reads them from raw rows.
    package static func entryFields(
        position: Int64, kind: Int64, transferID: UnsafeBufferPointer<UInt8>, fromUserID: Int64, from: UnsafeBufferPointer<UInt8>,
        toUserID: Int64, to: UnsafeBufferPointer<UInt8>, amountCents: Int64, fromBalanceAfterCents: Int64, toBalanceAfterCents: Int64,
        createdAtMs: Int64
    ) -> EntryFields {
        EntryFields(
            position: position, kind: kind, transferID: transferID, fromUserID: fromUserID, from: from, toUserID: toUserID, to: to,
            amountCents: amountCents, fromBalanceAfterCents: fromBalanceAfterCents, toBalanceAfterCents: toBalanceAfterCents,
            createdAtMs: createdAtMs)
    }

    /// The MAC stored with an entry: over its position and chain hash (which covers its content).
    public func entryMAC(position: Int64, chainHash: [UInt8]) -> [UInt8] {
        chainHash.withUnsafeBytes { chainHash in
            Self.withEntryMACInput(position: position, chainHash: chainHash) { self.mac(Array($0)) }
        }
    }

    private static let entryMACLabel = Array("integra/1 entry mac".utf8)

    /// Calls `body` with an entry MAC's input, `"integra/1 entry mac" ‖ i64 position ‖ chain hash`,
    /// built in a stack buffer.
    package static func withEntryMACInput<R>(position: Int64, chainHash: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        withUnsafeTemporaryAllocation(byteCount: Self.entryMACLabel.count + 8 + chainHash.count, alignment: 8) { input in
            Self.writeEntryMACInput(position: position, chainHash: chainHash, into: input)
            return body(UnsafeRawBufferPointer(input))
        }
    }

    /// Bytes in the MAC input of an entry whose chain hash has 32 bytes.
    package static let entryMACInputByteCount = entryMACLabel.count + 8 + hashByteCount

    /// Writes an entry MAC's input into `output`, which holds exactly its bytes (the verifier's
    /// per-entry path: no closure, nothing generic).
    package static func writeEntryMACInput(position: Int64, chainHash: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) {
        let labelCount = Self.entryMACLabel.count
        precondition(output.count == labelCount + 8 + chainHash.count)
        Self.entryMACLabel.withUnsafeBytes { output.copyMemory(from: $0) }
        output.storeBytes(of: position.bigEndian, toByteOffset: labelCount, as: Int64.self)
        UnsafeMutableRawBufferPointer(rebasing: output[(labelCount + 8)...]).copyMemory(from: chainHash)
    }

    /// The MAC stored with an account row.
    public func accountMAC(userID: Int64, balanceCents: Int64) -> [UInt8] {
        var bytes = Array("integra/1 account".utf8)
        Self.append(userID, to: &bytes)
        Self.append(balanceCents, to: &bytes)
        return self.mac(bytes)
    }

    /// The MAC stored with a user row: a swapped password hash or name breaks it, and so does an
    /// older copy of the row (its credential version is behind the ledger's credential entries).
    public func userMAC(userID: Int64, username: String, passwordHash: String, credentialVersion: Int64) -> [UInt8] {
        var bytes = Array("integra/2 user".utf8)
        Self.append(userID, to: &bytes)
        Self.append(username, to: &bytes)
        Self.append(passwordHash, to: &bytes)
        Self.append(credentialVersion, to: &bytes)
        return self.mac(bytes)
    }

    /// The MAC user rows carried before they had a credential version (schema versions 3 to 5);
    /// the upgrade re-seals only rows whose old MAC is right.
    public func legacyUserMAC(userID: Int64, username: String, passwordHash: String) -> [UInt8] {
        var bytes = Array("integra/1 user".utf8)
        Self.append(userID, to: &bytes)
        Self.append(username, to: &bytes)
        Self.append(passwordHash, to: &bytes)
        return self.mac(bytes)
    }

    /// The MAC stored with an alarm row, so that only Integra can record or clear an alarm in
    /// the database.
    public func alarmMAC(_ alarm: AlarmRecord) -> [UInt8] {
        var bytes = Array("integra/1 alarm".utf8)
        Self.append(alarm.id, to: &bytes)
        Self.append(alarm.kind, to: &bytes)
        Self.append(alarm.detail, to: &bytes)
        Self.append(alarm.raisedAtMs, to: &bytes)
        Self.append(alarm.acknowledgedAtMs ?? -1, to: &bytes)
        Self.append(alarm.acknowledgement ?? "", to: &bytes)
        return self.mac(bytes)
    }

    /// Constant-time check of a stored MAC.
    public func isValid(_ stored: [UInt8]?, expected: [UInt8]) -> Bool {
        guard let stored else { return false }
        return stored.withUnsafeBytes { stored in expected.withUnsafeBytes { Self.constantTimeEqual(stored, $0) } }
    }

    /// Whether two byte strings are equal, in time that depends only on their lengths.
    package static func constantTimeEqual(_ one: UnsafeRawBufferPointer, _ other: UnsafeRawBufferPointer) -> Bool {
        guard one.count == other.count else { return false }
        var difference: UInt64 = 0
        var index = 0
        while index + 8 <= one.count {
            difference |= one.loadUnaligned(fromByteOffset: index, as: UInt64.self) ^ other.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            index += 8
        }
        while index < one.count {
            difference |= UInt64(one[index] ^ other[index])
            index += 1
        }
        return difference == 0
    }

    private func mac(_ bytes: [UInt8]) -> [UInt8] {
        var authenticator = self.keyedMAC
        authenticator.update(data: bytes)
        return Array(authenticator.finalize())
    }

    private static func append(_ value: Int64, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    /// A length-prefixed string; text longer than a u16 length can hold (only a tampered row
    /// could carry it) is cut there, which can only make its MAC wrong.
    private static func append(_ text: String, to bytes: inout [UInt8]) {
        let utf8 = Array(text.utf8.prefix(Int(UInt16.max)))
        withUnsafeBytes(of: UInt16(utf8.count).bigEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: utf8)
    }
}
