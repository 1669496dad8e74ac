/// A ledger entry read from its canonical encoding (`docs/LEDGER-INTEGRITY.md`):
///
/// ```
/// "integra/1 entry" || i64 position || i64 kind || str transfer_id || i64 from_user_id
///   || str from_name || i64 to_user_id || str to_name || i64 amount_cents
///   || i64 from_balance_after_cents || i64 to_balance_after_cents || i64 created_at_ms
/// ```
///
/// The client reads it to compare the entry a proof shows with its receipt. Parsing is strict:
/// anything but exactly this layout is refused.
public struct CanonicalEntry: Hashable, Sendable {
    public var position: Int64
    public var kind: Int64
    public var transferID: String
    public var fromUserID: Int64
    public var from: String
    public var toUserID: Int64
    public var to: String
    public var amountCents: Int64
    public var fromBalanceAfterCents: Int64
    public var toBalanceAfterCents: Int64
    public var createdAtMs: Int64

    /// The kind of a customer's transfer.
    public static let transferKind: Int64 = 1
    /// The longest encoding a proof may carry.
    public static let maximumEncodedBytes = 4_096
    static let label = Array("integra/1 entry".utf8)

    /// Parses an encoding; nil if it is not exactly one entry.
    public init?(encoding bytes: [UInt8]) {
        guard bytes.count <= Self.maximumEncodedBytes, bytes.starts(with: Self.label) else { return nil }
        var reader = Reader(bytes: bytes, offset: Self.label.count)
        guard let position = reader.integer(), let kind = reader.integer(), let transferID = reader.string(),
              let fromUserID = reader.integer(), let from = reader.string(), let toUserID = reader.integer(), let to = reader.string(),
              let amountCents = reader.integer(), let fromBalanceAfterCents = reader.integer(), let toBalanceAfterCents = reader.integer(),
              let createdAtMs = reader.integer(), reader.offset == bytes.count
        else { return nil }
        self.init(
            position: position, kind: kind, transferID: transferID, fromUserID: fromUserID, from: from, toUserID: toUserID, to: to,
            amountCents: amountCents, fromBalanceAfterCents: fromBalanceAfterCents, toBalanceAfterCents: toBalanceAfterCents,
            createdAtMs: createdAtMs)
    }

    public init(
        position: Int64, kind: Int64, transferID: String, fromUserID: Int64, from: String, toUserID: Int64, to: String,
        amountCents: Int64, fromBalanceAfterCents: Int64, toBalanceAfterCents: Int64, createdAtMs: Int64
    ) {
        self.position = position
        self.kind = kind
        self.transferID = transferID
        self.fromUserID = fromUserID
        self.from = from
        self.toUserID = toUserID
        self.to = to
        self.amountCents = amountCents
        self.fromBalanceAfterCents = fromBalanceAfterCents
        self.toBalanceAfterCents = toBalanceAfterCents
        self.createdAtMs = createdAtMs
    }

    /// The canonical encoding (strings longer than a u16 length can hold are cut there).
    public var encoding: [UInt8] {
        var bytes = Self.label
        func append(_ value: Int64) { withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) } }
        func append(_ text: String) {
            let utf8 = Array(text.utf8.prefix(Int(UInt16.max)))
            bytes.append(UInt8(truncatingIfNeeded: utf8.count >> 8))
            bytes.append(UInt8(truncatingIfNeeded: utf8.count))
            bytes.append(contentsOf: utf8)
        }
        append(self.position)
        append(self.kind)
        append(self.transferID)
        append(self.fromUserID)
        append(self.from)
        append(self.toUserID)
        append(self.to)
        append(self.amountCents)
        append(self.fromBalanceAfterCents)
        append(self.toBalanceAfterCents)
        append(self.createdAtMs)
        return bytes
    }

    /// Cents as the server writes amounts and balances: at least one whole digit, two decimals,
    /// a leading '-' when negative ("0.05", "899.50", "-12.00").
    public static func format(cents: Int64) -> String {
        let magnitude = cents.magnitude
        let fraction = magnitude % 100
        return "\(cents < 0 ? "-" : "")\(magnitude / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }

    private struct Reader {
        let bytes: [UInt8]
        var offset: Int

        mutating func integer() -> Int64? {
            guard self.offset + 8 <= self.bytes.count else { return nil }
            var value: UInt64 = 0
            for byte in self.bytes[self.offset..<self.offset + 8] { value = value << 8 | UInt64(byte) }
            self.offset += 8
            return Int64(bitPattern: value)
        }

        mutating func string() -> String? {
            guard self.offset + 2 <= self.bytes.count else { return nil }
            let count = Int(self.bytes[self.offset]) << 8 | Int(self.bytes[self.offset + 1])
            self.offset += 2
            guard self.offset + count <= self.bytes.count else { return nil }
            let text = String(validating: self.bytes[self.offset..<self.offset + count], as: UTF8.self)
            self.offset += count
            return text
        }
    }

    /// Whether this is the transfer `receipt` confirms, field by field.
    public func shows(_ receipt: TransferConfirmation) -> Bool {
        self.kind == Self.transferKind && UInt64(exactly: self.position) == receipt.position && self.transferID == receipt.transferID
            && self.from == receipt.sender && self.to == receipt.recipient
            && Self.format(cents: self.amountCents) == receipt.amount
            && Self.format(cents: self.fromBalanceAfterCents) == receipt.balanceAfter
            && self.createdAtMs == receipt.createdAtMs
    }
}
