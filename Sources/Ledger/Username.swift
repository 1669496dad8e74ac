/// A customer's name in canonical form (docs/PROTOCOL.md, section 8.2): NFKC_Casefold then NFC
/// on Unicode 17.0 data, 1 to 50 characters and at most 64 UTF-8 bytes of letters, digits,
/// space, '.', '-' and '_', in one script, with few combining marks per character.
///
/// Two names that look alike have the same `skeleton` (UTS #39); the store keeps skeletons
/// unique so that no customer can register a lookalike of another's name.
public struct Username: Hashable, Sendable, CustomStringConvertible {
    /// The canonical form stored in the database and compared for uniqueness.
    public let canonical: String

    /// The longest name accepted, in characters (extended grapheme clusters).
    public static let maximumCharacters: Int = 50

    /// The longest canonical name accepted, in UTF-8 bytes: names go into length-prefixed fields
    /// and frames, so their size must be bounded whatever normalisation does to them.
    public static let maximumCanonicalBytes: Int = 64

    /// The longest name accepted as typed, in UTF-8 bytes, before any work is done on it: room
    /// for 50 characters typed in four-byte compatibility forms, with margin.
    public static let maximumTypedBytes: Int = 256

    /// The most combining marks one character of a canonical name may carry. Tibetan stacks
    /// (root, two subjoined letters, a vowel sign) need 3 and Indic syllables 2, while precomposed
    /// Latin, Greek and Cyrillic letters need none; 4 accepts every real name and refuses mark
    /// piles that render over their neighbours or make a name grow without a visible character.
    public static let maximumCombiningMarksPerCharacter: Int = 4

    /// The longest skeleton of an accepted name, in UTF-8 bytes (a Hangul syllable's skeleton
    /// is up to seven times its size).
    public static let maximumSkeletonBytes: Int = Self.maximumCanonicalBytes * UnicodeTables.maximumSkeletonBytesPerCanonicalByte

    /// The Unicode version of the rules' data.
    public static let unicodeVersion = UnicodeTables.unicodeVersion

    /// Names no customer may register, nor any name with the same skeleton: `system` is the
    /// account deposits come from.
    public static let reservedNames: [String] = ["system"]

    private static let reservedSkeletons: Set<String> = Set(Self.reservedNames.map { Self.skeleton(ofLookupForm: $0) })

    /// Canonicalises and validates a name as typed by a customer, for a lookup (login, a
    /// transfer's recipient) or an operator's command. Reserved names are accepted here.
    public init(_ text: String) throws(LedgerError) {
        self.canonical = NameRules.canonical(text)
        if let refusal = NameRules.refusal(typed: text, canonical: self.canonical) {
            throw .invalidUsername(refusal.message)
        }
    }

    /// Canonicalises and validates a name a customer asks to register: as `init(_:)`, refused
    /// if it is, or looks like, a reserved name, and refused unless it begins and ends with a
    /// letter or digit (`carol.` or `-carol` beside `carol` is too easily taken for it). Names
    /// registered before that rule are still found by `init(_:)`.
    public init(registering text: String) throws(LedgerError) {
        try self.init(text)
        guard !self.isReserved else { throw .invalidUsername(NameRules.Refusal.reserved.message) }
        let scalars = self.canonical.unicodeScalars
        guard let first = scalars.first, let last = scalars.last,
              NameUnicode.properties(first.value).characterClass == .letterOrDigit,
              NameUnicode.properties(last.value).characterClass != .punctuation,
              !Self.looksLikePunctuation(first), !Self.looksLikePunctuation(last)
        else { throw .invalidUsername(NameRules.Refusal.punctuationAtAnEnd.message) }
    }

    /// A letter drawn as punctuation: the spacing modifier letters (U+02B0 to U+02FF: ʼ ː ˌ ʺ),
    /// the modifier tone letters and the Latin modifier letters beside them (ꞈ ꞏ), and U+2E2F ⸯ.
    /// Inside a name they are what they are (o\u{02BC}neill); at an end they pass for `'`, `:` or
    /// `·`. Fixed ranges, so the rule does not change with the toolchain's Unicode version.
    static func looksLikePunctuation(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x02B0...0x02FF, 0xA700...0xA721, 0xA788...0xA78A, 0xA78F, 0x2E2F: true
        default: false
        }
    }

    /// Wraps a name read back from the store, exactly as stored. Names stored before these
    /// rules (NFC and lowercase only) are wrapped unchanged too: the hash chain holds their bytes.
    public init(trustedCanonical: String) {
        self.canonical = trustedCanonical
    }

    /// The UTS #39 confusable skeleton of the name: equal skeletons look alike, so the store
    /// refuses a new name whose skeleton another account already has.
    public var skeleton: String {
        Self.skeleton(ofLookupForm: self.canonical)
    }

    /// Whether the name is reserved or looks like a reserved name (same skeleton).
    public var isReserved: Bool {
        Self.reservedSkeletons.contains(self.skeleton)
    }

    public var description: String { self.canonical }

    /// The skeleton of any text, taken on its NFKC_Casefold form (already canonical for names
    /// accepted by these rules, the lookup form for names stored before them).
    private static func skeleton(ofLookupForm text: String) -> String {
        let folded = NameUnicode.foldedAndComposed(text.unicodeScalars.map(\.value))
        return NameUnicode.string(NameUnicode.skeleton(ofCanonical: folded))
    }
}

extension Username {
    /// What a name stored before these rules becomes under them, for the store's migration.
    public struct StoredNameKeys: Hashable, Sendable {
        /// The form lookups compare from now on: NFKC_Casefold then NFC of the stored name. It
        /// equals the stored name for every name of lowercase ASCII.
        public let lookupForm: String
        /// The confusable skeleton of `lookupForm`.
        public let skeleton: String
        /// Why `Username(_:)` refuses the stored name today (a customer-readable message), or
        /// nil if it accepts it, with `lookupForm` as its canonical form.
        public let refusal: String?
    }

    /// The lookup form and skeleton of a name stored under the earlier rules (NFC then
    /// lowercase), and whether the current rules still accept it. Pure; never fails: a stored
    /// name that breaks a rule still gets both keys, so its account stays reachable by id.
    /// Stored names are bounded by the store (the earlier rules capped them at 50 characters).
    public static func keys(forStoredName stored: String) -> StoredNameKeys {
        let lookupForm = NameRules.canonical(stored, scalarLimit: Int.max)
        return StoredNameKeys(
            lookupForm: lookupForm,
            skeleton: Self.skeleton(ofLookupForm: lookupForm),
            refusal: NameRules.refusal(typed: stored, canonical: lookupForm)?.message)
    }
}

/// The checks of docs/PROTOCOL.md section 8.2, in the order a refusal is reported.
enum NameRules {
    /// Why a name is refused; each message says which rule failed and never quotes the name.
    enum Refusal: Equatable {
        case empty
        case typedTooLong
        case disallowedCharacter
        case tooManyBytes
        case tooManyCharacters
        case badSpacing
        case punctuationAtAnEnd
        case noLetterOrDigit
        case strayCombiningMark
        case tooManyCombiningMarks
        case repeatedCombiningMark
        case mixedScripts
        case reserved

        var message: String {
            switch self {
            case .empty: "name must not be empty"
            case .typedTooLong: "name must be at most \(Username.maximumTypedBytes) bytes as typed"
            case .disallowedCharacter: "name may contain only letters, digits, space, '.', '-' and '_'"
            case .tooManyBytes: "name must be at most \(Username.maximumCanonicalBytes) bytes in UTF-8 once normalised"
            case .tooManyCharacters: "name must be at most \(Username.maximumCharacters) characters"
            case .badSpacing: "name must not start or end with a space or repeat spaces"
            case .punctuationAtAnEnd: "a new name must begin with a letter or digit and end with a letter, digit or mark"
            case .noLetterOrDigit: "name must contain at least one letter or digit"
            case .strayCombiningMark: "an accent or other combining mark must follow a letter or digit"
            case .tooManyCombiningMarks: "a character of a name may carry at most \(Username.maximumCombiningMarksPerCharacter) combining marks"
            case .repeatedCombiningMark: "name must not repeat a combining mark on the same character"
            case .mixedScripts: "name must be written in a single script (for example not Latin and Cyrillic letters together)"
            case .reserved: "that name is reserved"
            }
        }
    }

    /// toNFKC_Casefold of the text's first `scalarLimit` scalars. Typed text is cut at
    /// `maximumTypedBytes` scalars (longer text is refused anyway) so that the work is bounded.
    static func canonical(_ text: String, scalarLimit: Int = Username.maximumTypedBytes) -> String {
        let scalars = text.unicodeScalars.prefix(scalarLimit).map(\.value)
        return NameUnicode.string(NameUnicode.foldedAndComposed(scalars))
    }

    /// The first rule that `typed`, canonicalised as `canonical`, breaks; nil if none.
    static func refusal(typed: String, canonical: String) -> Refusal? {
        guard !typed.isEmpty else { return .empty }
        guard typed.utf8.count <= Username.maximumTypedBytes else { return .typedTooLong }
        guard typed.unicodeScalars.allSatisfy({ NameUnicode.properties($0.value).characterClass != .forbidden }) else {
            return .disallowedCharacter
        }
        guard !canonical.isEmpty else { return .empty }
        let scalars = canonical.unicodeScalars.map(\.value)
        let properties = scalars.map(NameUnicode.properties)
        var hasLetterOrDigit = false
        var hasMark = false
        for scalar in properties {
            switch scalar.characterClass {
            case .letterOrDigit: hasLetterOrDigit = true
            case .mark: hasMark = true
            case .punctuation: continue
            case .forbidden, .other: return .disallowedCharacter
            }
        }
        guard canonical.utf8.count <= Username.maximumCanonicalBytes else { return .tooManyBytes }
        // A string has no more grapheme clusters than scalars: count clusters only when needed.
        guard scalars.count <= Username.maximumCharacters || canonical.count <= Username.maximumCharacters else { return .tooManyCharacters }
        guard Self.hasGoodSpacing(scalars) else { return .badSpacing }
        guard hasLetterOrDigit else { return .noLetterOrDigit }
        if hasMark, let refusal = Self.markRefusal(canonical: canonical, scalars: scalars, classes: properties.map(\.characterClass)) {
            return refusal
        }
        guard NameUnicode.isSingleScript(properties) else { return .mixedScripts }
        return nil
    }

    /// No space at either end, no two spaces in a row.
    private static func hasGoodSpacing(_ scalars: [UInt32]) -> Bool {
        let space: UInt32 = 0x20
        guard scalars.first != space, scalars.last != space else { return false }
        return !zip(scalars, scalars.dropFirst()).contains { $0 == space && $1 == space }
    }

    /// Combining marks: each follows a letter, a digit or another mark, no character carries more
    /// than `maximumCombiningMarksPerCharacter`, and no mark directly repeats itself.
    private static func markRefusal(canonical: String, scalars: [UInt32], classes: [NameUnicode.CharacterClass]) -> Refusal? {
        var index = 0
        for character in canonical {
            var marks = 0
            for _ in character.unicodeScalars {
                defer { index += 1 }
                guard classes[index] == .mark else { continue }
                marks += 1
                guard index > 0, classes[index - 1] == .letterOrDigit || classes[index - 1] == .mark else { return .strayCombiningMark }
                guard scalars[index - 1] != scalars[index] else { return .repeatedCombiningMark }
                guard marks <= Username.maximumCombiningMarksPerCharacter else { return .tooManyCombiningMarks }
            }
        }
        return nil
    }
}
