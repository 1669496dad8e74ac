/// A client-chosen idempotency key for a transfer, unique per sender.
///
/// Sending the same id again with the same content returns the original result; with different
/// content it is rejected. 1 to 64 characters of ASCII letters, digits, '.', '_', ':' and '-'.
public struct TransferID: Hashable, Sendable, CustomStringConvertible {
    public let value: String

    public static let maximumLength = 64

    public init(_ value: String) throws(LedgerError) {
        let bytes = value.utf8
        guard !bytes.isEmpty, bytes.count <= Self.maximumLength else {
            throw .invalidTransferID("transfer id must be 1 to \(Self.maximumLength) characters")
        }
        guard bytes.allSatisfy(Self.isAllowed) else {
            throw .invalidTransferID("transfer id may contain only ASCII letters, digits, '.', '_', ':' and '-'")
        }
        self.value = value
    }

    /// Wraps an id read back from the store.
    public init(trusted value: String) {
        self.value = value
    }

    private static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"),
             UInt8(ascii: ":"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }

    public var description: String { self.value }
}
