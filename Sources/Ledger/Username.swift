import Foundation

/// A customer's name in canonical form: Unicode NFC, lowercased, 1 to 50 characters of
/// letters, digits, space, '.', '-' and '_', no leading, trailing or repeated spaces.
public struct Username: Hashable, Sendable, CustomStringConvertible {
    /// The canonical form stored in the database and compared for uniqueness.
    public let canonical: String

    /// The longest name accepted, in characters.
    public static let maximumCharacters = 50

    /// Canonicalises and validates a name as typed by a customer.
    public init(_ text: String) throws(LedgerError) {
        let canonical = text.precomposedStringWithCanonicalMapping.lowercased().precomposedStringWithCanonicalMapping
        guard !canonical.isEmpty else { throw .invalidUsername("name must not be empty") }
        guard canonical.count <= Self.maximumCharacters else {
            throw .invalidUsername("name must be at most \(Self.maximumCharacters) characters")
        }
        guard canonical.unicodeScalars.allSatisfy(Self.isAllowed) else {
            throw .invalidUsername("name may contain only letters, digits, space, '.', '-' and '_'")
        }
        guard !canonical.hasPrefix(" "), !canonical.hasSuffix(" "), !canonical.contains("  ") else {
            throw .invalidUsername("name must not start or end with a space or repeat spaces")
        }
        self.canonical = canonical
    }

    /// Wraps a name read back from the store, which only ever holds canonical names.
    public init(trustedCanonical: String) {
        self.canonical = trustedCanonical
    }

    private static func isAllowed(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case " ", ".", "-", "_": return true
        default: break
        }
        let properties = scalar.properties
        switch properties.generalCategory {
        case .format, .control, .privateUse, .surrogate, .unassigned:
            return false
        case .decimalNumber:
            return true
        default:
            return properties.isAlphabetic
        }
    }

    public var description: String { self.canonical }
}
