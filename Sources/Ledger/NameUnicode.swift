/// The Unicode algorithms behind customer names, on the pinned tables of `UnicodeTables`:
/// NFKC_Casefold followed by NFC, NFD, canonical ordering and composition, the UTS #39
/// confusable skeleton and script sets. Pure functions on arrays of scalar values; every loop is
/// bounded by the length of its input or by the size of a table.
enum NameUnicode {
    /// What a scalar may be in a canonical name.
    enum CharacterClass: UInt8 {
        /// Control, format, surrogate, private use or unassigned: refused wherever it is typed.
        case forbidden = 0
        /// Assigned, but never part of a canonical name (symbols, most punctuation, ...).
        case other = 1
        /// A letter (Alphabetic, not a mark) or a decimal digit (General_Category Nd).
        case letterOrDigit = 2
        /// A combining mark (General_Category M) that is Alphabetic.
        case mark = 3
        /// Space, '.', '-' or '_'.
        case punctuation = 4
    }

    /// The properties of one scalar, as `UnicodeTables.properties` holds them.
    struct ScalarProperties {
        let combiningClass: UInt8
        let characterClass: CharacterClass
        /// Index of the scalar's augmented Script_Extensions in `UnicodeTables.scriptSets`.
        let scriptSet: Int
    }

    /// Script set index meaning "every script" (Common and Inherited characters).
    static let everyScript: Int = 1

    private static let hangulSyllableBase: UInt32 = 0xAC00
    private static let hangulLeadBase: UInt32 = 0x1100
    private static let hangulVowelBase: UInt32 = 0x1161
    private static let hangulTrailBase: UInt32 = 0x11A7
    private static let hangulLeadCount: UInt32 = 19
    private static let hangulVowelCount: UInt32 = 21
    private static let hangulTrailCount: UInt32 = 28
    private static let hangulSyllableCount: UInt32 = 19 * 21 * 28
    private static let expandedMapping: UInt32 = 0x8000_0000
    /// U+0300: no scalar below it has a combining class or composes with the scalar before it.
    private static let firstCombiningScalar: UInt32 = 0x300

    // MARK: - Table lookups

    /// The properties of the ASCII scalars, read once from the table.
    private static let asciiProperties: [ScalarProperties] = (UInt32(0)..<0x80).map(Self.searchedProperties)

    /// The properties of `scalar`; values beyond U+10FFFF read as forbidden.
    static func properties(_ scalar: UInt32) -> ScalarProperties {
        scalar < 0x80 ? Self.asciiProperties[Int(scalar)] : Self.searchedProperties(scalar)
    }

    private static func searchedProperties(_ scalar: UInt32) -> ScalarProperties {
        let table = UnicodeTables.properties
        // The last run starting at or before the scalar; the first run starts at U+0000.
        var low = 0
        var high = table.count
        while high - low > 1 {
            let middle = low + (high - low) / 2
            if UInt32(truncatingIfNeeded: table[middle] >> 24) <= scalar { low = middle } else { high = middle }
        }
        let entry = table[low]
        let characterClass = scalar > 0x10FFFF ? .forbidden : CharacterClass(rawValue: UInt8(truncatingIfNeeded: entry >> 8)) ?? .forbidden
        return ScalarProperties(
            combiningClass: UInt8(truncatingIfNeeded: entry >> 16),
            characterClass: characterClass,
            scriptSet: Int(UInt8(truncatingIfNeeded: entry)))
    }

    /// The mapping of `scalar` in a table of `scalar << 32 | mapping` entries, if it has one.
    private static func mapping(of scalar: UInt32, in table: [UInt64]) -> UInt32? {
        var low = 0
        var high = table.count
        while low < high {
            let middle = low + (high - low) / 2
            let key = UInt32(truncatingIfNeeded: table[middle] >> 32)
            if key == scalar { return UInt32(truncatingIfNeeded: table[middle]) }
            if key < scalar { low = middle + 1 } else { high = middle }
        }
        return nil
    }

    /// Appends a table mapping (one scalar, or a run of `UnicodeTables.expansions`).
    private static func appendMapping(_ mapping: UInt32, to output: inout [UInt32]) {
        guard mapping & Self.expandedMapping != 0 else {
            output.append(mapping)
            return
        }
        let offset = Int((mapping >> 5) & 0x03FF_FFFF)
        let length = Int(mapping & 0x1F)
        output.append(contentsOf: UnicodeTables.expansions[offset..<(offset + length)])
    }

    /// The primary composite of `first` and `second`, if there is one.
    private static func composite(_ first: UInt32, _ second: UInt32) -> UInt32? {
        if (Self.hangulLeadBase..<(Self.hangulLeadBase + Self.hangulLeadCount)).contains(first),
           (Self.hangulVowelBase..<(Self.hangulVowelBase + Self.hangulVowelCount)).contains(second) {
            let index = (first - Self.hangulLeadBase) * Self.hangulVowelCount + (second - Self.hangulVowelBase)
            return Self.hangulSyllableBase + index * Self.hangulTrailCount
        }
        if (Self.hangulSyllableBase..<(Self.hangulSyllableBase + Self.hangulSyllableCount)).contains(first),
           (first - Self.hangulSyllableBase) % Self.hangulTrailCount == 0,
           ((Self.hangulTrailBase + 1)..<(Self.hangulTrailBase + Self.hangulTrailCount)).contains(second) {
            return first + (second - Self.hangulTrailBase)
        }
        let key = UInt64(first) << 21 | UInt64(second)
        let table = UnicodeTables.compositions
        var low = 0
        var high = table.count
        while low < high {
            let middle = low + (high - low) / 2
            let entryKey = table[middle] >> 21
            if entryKey == key { return UInt32(truncatingIfNeeded: table[middle] & 0x1F_FFFF) }
            if entryKey < key { low = middle + 1 } else { high = middle }
        }
        return nil
    }

    // MARK: - Normalization

    /// Appends NFD(NFKC_Casefold(scalar)). For a scalar that NFKC_Casefold leaves alone (every
    /// scalar of a canonical name) this is its NFD. Forbidden scalars are appended unchanged.
    static func appendFoldedDecomposition(of scalar: UInt32, to output: inout [UInt32]) {
        if scalar < 0x80 {
            let isUppercase = scalar >= 0x41 && scalar <= 0x5A
            output.append(isUppercase ? scalar + 0x20 : scalar)
            return
        }
        if (Self.hangulSyllableBase..<(Self.hangulSyllableBase + Self.hangulSyllableCount)).contains(scalar) {
            let index = scalar - Self.hangulSyllableBase
            let perLead = Self.hangulVowelCount * Self.hangulTrailCount
            output.append(Self.hangulLeadBase + index / perLead)
            output.append(Self.hangulVowelBase + (index % perLead) / Self.hangulTrailCount)
            let trail = index % Self.hangulTrailCount
            if trail != 0 { output.append(Self.hangulTrailBase + trail) }
            return
        }
        guard let mapping = Self.mapping(of: scalar, in: UnicodeTables.decompositions) else {
            output.append(scalar)
            return
        }
        Self.appendMapping(mapping, to: &output)
    }

    /// Puts every run of non-starters in canonical order (stable by combining class), as NFD and
    /// NFC require. Insertion sort: runs are short, and the input is bounded by the caller.
    static func canonicallyOrdered(_ scalars: [UInt32]) -> (scalars: [UInt32], combiningClasses: [UInt8]) {
        var ordered = scalars
        // Every scalar below U+0300 has combining class 0.
        var classes = scalars.map { $0 < Self.firstCombiningScalar ? 0 : Self.properties($0).combiningClass }
        for index in ordered.indices.dropFirst() where classes[index] != 0 {
            var position = index
            while position > 0, classes[position - 1] > classes[position] {
                ordered.swapAt(position - 1, position)
                classes.swapAt(position - 1, position)
                position -= 1
            }
        }
        return (ordered, classes)
    }

    /// Canonical composition (UAX #15) of canonically ordered, fully decomposed scalars.
    static func composed(_ scalars: [UInt32], combiningClasses: [UInt8]) -> [UInt32] {
        var result: [UInt32] = []
        result.reserveCapacity(scalars.count)
        var starter: Int? = nil
        // Combining class of the last scalar kept after the starter (0: none kept yet).
        var lastClass: UInt8 = 0
        for (scalar, combiningClass) in zip(scalars, combiningClasses) {
            // No scalar below U+0300 is the second of a composition.
            if let starter, scalar >= Self.firstCombiningScalar {
                let adjacent = result.count - 1 == starter
                let blocked = !adjacent && (lastClass == 0 || lastClass >= combiningClass)
                if !blocked, let composite = Self.composite(result[starter], scalar) {
                    result[starter] = composite
                    continue
                }
            }
            if combiningClass == 0 {
                starter = result.count
                lastClass = 0
            } else {
                lastClass = combiningClass
            }
            result.append(scalar)
        }
        return result
    }

    /// toNFKC_Casefold: each scalar mapped through NFKC_Casefold, then NFC. Idempotent.
    static func foldedAndComposed(_ scalars: [UInt32]) -> [UInt32] {
        var decomposed: [UInt32] = []
        decomposed.reserveCapacity(scalars.count)
        var isASCII = true
        for scalar in scalars {
            isASCII = isASCII && scalar < 0x80
            Self.appendFoldedDecomposition(of: scalar, to: &decomposed)
        }
        // ASCII folds to ASCII, which is in canonical order and never composes.
        if isASCII { return decomposed }
        let ordered = Self.canonicallyOrdered(decomposed)
        return Self.composed(ordered.scalars, combiningClasses: ordered.combiningClasses)
    }

    /// NFD of scalars that NFKC_Casefold leaves alone (a canonical name's).
    static func decomposed(_ scalars: [UInt32]) -> [UInt32] {
        var decomposed: [UInt32] = []
        for scalar in scalars {
            Self.appendFoldedDecomposition(of: scalar, to: &decomposed)
        }
        return Self.canonicallyOrdered(decomposed).scalars
    }

    // MARK: - Confusables and scripts

    /// The confusable skeleton of a canonical name: NFD, each scalar replaced by its settled,
    /// case-folded prototype (`UnicodeTables.confusables`), canonical order again.
    static func skeleton(ofCanonical scalars: [UInt32]) -> [UInt32] {
        var mapped: [UInt32] = []
        for scalar in Self.decomposed(scalars) {
            if let mapping = Self.mapping(of: scalar, in: UnicodeTables.confusables) {
                Self.appendMapping(mapping, to: &mapped)
            } else {
                mapped.append(scalar)
            }
        }
        return Self.canonicallyOrdered(mapped).scalars
    }

    /// Whether scalars of these properties share at least one script (UTS #39 section 5.1, single script): the
    /// intersection of their augmented Script_Extensions is not empty. Scalars of script set 0
    /// (never allowed in a name) make it empty.
    static func isSingleScript(_ properties: [ScalarProperties]) -> Bool {
        let words = UnicodeTables.scriptSetWords
        var common = [UInt64](repeating: UInt64.max, count: words)
        for scalar in properties {
            let set = scalar.scriptSet
            if set == Self.everyScript { continue }
            for word in 0..<words {
                common[word] &= UnicodeTables.scriptSets[set * words + word]
            }
        }
        return common.contains { $0 != 0 }
    }

    /// A string of table scalars; a value that is not a scalar (never produced by the tables)
    /// becomes U+FFFD rather than trapping.
    static func string(_ scalars: [UInt32]) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(scalars.count * 2)
        for value in scalars {
            if value < 0x80 {
                bytes.append(UInt8(truncatingIfNeeded: value))
            } else {
                bytes.append(contentsOf: (Unicode.Scalar(value) ?? "\u{FFFD}").utf8)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
