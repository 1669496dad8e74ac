/// An amount of money in minor units (cents), parsed strictly from a decimal string.
///
/// Amounts never pass through floating point: "100", "100.5" and "100.50" are accepted;
/// signs, exponents, NaN, infinities, more than two decimals and zero are not. Only a ledger
/// entry that moves no money (a password change) carries the amount zero.
public struct Amount: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The amount in minor units: greater than zero for every money movement.
    public let cents: Int64

    /// Wraps a number of cents. A negative value is a programmer error.
    public init(cents: Int64) {
        precondition(cents >= 0, "an Amount is never negative")
        self.cents = cents
    }

    /// The amount of an entry that moves no money.
    public static let zero = Amount(cents: 0)

    /// Parses a decimal string such as "100.50" into cents, rejecting anything above `maximumCents`.
    public static func parse(_ text: String, maximumCents: Int64) throws(LedgerError) -> Amount {
        let cents = try Self.parseCents(text)
        guard cents > 0 else { throw .invalidAmount("amount must be greater than zero") }
        guard cents <= maximumCents else {
            throw .invalidAmount("amount exceeds the maximum of \(Self.format(cents: maximumCents))")
        }
        return Amount(cents: cents)
    }

    /// Reads back a balance as `format(cents:)` writes it ("-12.34", "0.00"); nil if it is not one.
    public static func parseBalance(_ text: String) -> Int64? {
        let negative = text.hasPrefix("-")
        guard let cents = try? Self.parseCents(String(text.dropFirst(negative ? 1 : 0))) else { return nil }
        return negative ? -cents : cents
    }

    /// Parses a non-negative decimal string with at most two decimals into cents.
    static func parseCents(_ text: String) throws(LedgerError) -> Int64 {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, bytes.count <= 32 else { throw .invalidAmount("amount must be a decimal number like 100.50") }
        var whole: Int64 = 0
        var index = 0
        var wholeDigits = 0
        while index < bytes.count, let digit = Self.digitValue(bytes[index]) {
            let (shifted, overflowA) = whole.multipliedReportingOverflow(by: 10)
            let (added, overflowB) = shifted.addingReportingOverflow(digit)
            guard !overflowA, !overflowB else { throw .invalidAmount("amount is too large") }
            whole = added
            index += 1
            wholeDigits += 1
        }
        guard wholeDigits > 0 else { throw .invalidAmount("amount must be a decimal number like 100.50") }
        var fraction: Int64 = 0
        if index < bytes.count {
            guard bytes[index] == UInt8(ascii: ".") else { throw .invalidAmount("amount must be a decimal number like 100.50") }
            index += 1
            let fractionDigits = bytes.count - index
            guard fractionDigits >= 1 else { throw .invalidAmount("amount must have digits after the decimal point") }
            guard fractionDigits <= 2 else { throw .invalidAmount("amount has more than two decimals") }
            for position in 0..<fractionDigits {
                guard let digit = Self.digitValue(bytes[index + position]) else {
                    throw .invalidAmount("amount must be a decimal number like 100.50")
                }
                fraction = fraction * 10 + digit
            }
            if fractionDigits == 1 { fraction *= 10 }
        }
        let (wholeCents, overflowA) = whole.multipliedReportingOverflow(by: 100)
        let (cents, overflowB) = wholeCents.addingReportingOverflow(fraction)
        guard !overflowA, !overflowB else { throw .invalidAmount("amount is too large") }
        return cents
    }

    private static func digitValue(_ byte: UInt8) -> Int64? {
        guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
        return Int64(byte - UInt8(ascii: "0"))
    }

    /// Formats cents as a decimal string with exactly two decimals ("-3.05" for -305).
    public static func format(cents: Int64) -> String {
        let negative = cents < 0
        let magnitude = cents.magnitude
        let whole = magnitude / 100
        let fraction = magnitude % 100
        let fractionText = fraction < 10 ? "0\(fraction)" : "\(fraction)"
        return "\(negative ? "-" : "")\(whole).\(fractionText)"
    }

    /// The canonical decimal form, for example "100.50".
    public var description: String { Self.format(cents: self.cents) }

    public static func < (lhs: Amount, rhs: Amount) -> Bool { lhs.cents < rhs.cents }
}
