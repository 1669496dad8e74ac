import IntegraProtocol
@testable import IntegraFuzzHarness
@testable import IntegraLedger
import Testing

/// The name rules of docs/PROTOCOL.md section 8.2: canonical form, limits, one script,
/// confusable skeletons, reserved names, and the tables they run on.
@Suite struct UsernameTests {
    // MARK: - Canonical form

    @Test(arguments: [
        ("alice", "alice"), ("Alice", "alice"), ("bob", "bob"), ("carol", "carol"), ("dave", "dave"),
        ("müller", "müller"), ("MÜLLER", "müller"), ("josé", "josé"), ("测试", "测试"), ("ivan petrov", "ivan petrov"),
        ("José María_2.x-y", "josé maría_2.x-y"), ("b\u{F6}b", "b\u{F6}b"), ("zo\u{EB}", "zo\u{EB}"),
    ])
    func existingNamesKeepTheirCanonicalForm(typed: String, canonical: String) throws {
        #expect(try Username(typed).canonical == canonical)
        #expect(try Username(registering: typed).canonical == canonical)
    }

    @Test func decomposedAndPrecomposedLettersAreTheSameName() throws {
        // "É" decomposed (E + combining acute) and precomposed are the same user.
        #expect(try Username("E\u{301}mile") == Username("\u{C9}MILE"))
        #expect(try Username("E\u{301}mile").canonical.unicodeScalars.map(\.value) == [0xE9, 0x6D, 0x69, 0x6C, 0x65])
    }

    @Test(arguments: [
        ("straße", "strasse"), ("STRASSE", "strasse"), ("ẞ", "ss"), ("ſam", "sam"), ("\u{212A}im", "kim"),
        ("ΟΔΥΣΣΕΥΣ", "οδυσσευσ"), ("οδυσσευς", "οδυσσευσ"), ("ａｌｉｃｅ", "alice"), ("𝐚𝐥𝐢𝐜𝐞", "alice"), ("ⓐⓛⓘⓒⓔ", "alice"),
        ("ivan\u{A0}petrov", "ivan petrov"), ("ｱｲｳ", "アイウ"), ("\u{3300}", "アパート"), ("ǅ", "dž"), ("Ⅻ", "xii"),
        ("ali\u{FE00}ce", "alice"), ("a\u{3164}b", "ab"),
    ])
    func canonicalFormIsNFKCCaseFolded(typed: String, canonical: String) throws {
        #expect(try Username(typed).canonical == canonical)
    }

    // MARK: - Refusals

    @Test(arguments: [
        "", " alice", "alice ", "al  ice", "alice\n", "a\u{0}b", "bob'; DROP TABLE users;--", "evil\u{202E}gnp", "a\u{200B}b",
        "a/b", "😀", String(repeating: "a", count: 51), "o'brien", "robert\u{2028}", "a\u{E000}b", "\u{3164}", "q\u{301}",
        "a\u{301}\u{301}", "\u{F71}a", "a\u{F71}\u{F71}", "ཀ\u{F71}\u{F71}",
    ])
    func rejectsInvalidNames(name: String) {
        #expect(throws: LedgerError.self) { try Username(name) }
    }

    @Test(arguments: [".", "..", "...", "-", "_", "-_-", ". .", "._.", "－＿－", "．．", "\u{2024}\u{2024}"])
    func punctuationOnlyNamesAreRefused(name: String) {
        #expect(throws: LedgerError.invalidUsername("name must contain at least one letter or digit")) { try Username(name) }
    }

    @Test func namesAreBoundedInCharactersAndCanonicalBytes() throws {
        #expect(try Username(String(repeating: "n", count: 50)).canonical.count == 50)
        #expect(throws: LedgerError.self) { try Username(String(repeating: "n", count: 51)) }
        // Two-byte letters: 32 fit in 64 bytes, 33 do not (50 "ñ" were accepted before bytes were bounded).
        #expect(try Username(String(repeating: "ñ", count: 32)).canonical.utf8.count == 64)
        #expect(throws: LedgerError.self) { try Username(String(repeating: "ñ", count: 33)) }
        #expect(try Username(String(repeating: "测", count: 21)).canonical.utf8.count == 63)
        #expect(throws: LedgerError.self) { try Username(String(repeating: "测", count: 22)) }
        // 50 fullwidth letters are 150 bytes typed and 50 canonical.
        #expect(try Username(String(repeating: "ａ", count: 50)).canonical == String(repeating: "a", count: 50))
        #expect(throws: LedgerError.self) { try Username(String(repeating: "a", count: 257)) }
    }

    @Test func theNameThatCrashedTheServerIsRefused() {
        let hostile = "a" + String(repeating: "\u{F73}", count: 66)
        #expect(hostile.utf8.count == 199)
        #expect(hostile.count == 1)
        #expect(throws: LedgerError.self) { try Username(hostile) }
        #expect(throws: LedgerError.self) { try Username(registering: hostile) }
    }

    /// Characters whose NFC or NFKC form is longer than they are, in bytes or in scalars.
    static let expandingCharacters: [Unicode.Scalar] = [
        "\u{0F73}", "\u{0F75}", "\u{0F81}", "\u{0F77}", "\u{0F79}", "\u{FB2C}", "\u{FB2D}", "\u{FB4F}", "\u{1D15E}",
        "\u{1D160}", "\u{0390}", "\u{03B0}", "\u{1F88}", "\u{FDFA}", "\u{FDFB}", "\u{FDF2}", "\u{3300}", "\u{3357}",
        "\u{33FF}", "\u{32FF}", "\u{1E9E}", "\u{00DF}", "\u{0149}", "\u{FB03}", "\u{FB06}", "\u{2177}", "\u{2474}",
        "\u{2488}", "\u{0587}", "\u{0958}", "\u{2ADC}", "\u{0344}", "\u{0130}", "\u{01C4}", "\u{1E9A}", "\u{1F82}",
        "\u{AC00}", "\u{D7A3}", "\u{3200}", "\u{320E}", "\u{1F1E6}", "\u{2FD5}", "\u{F900}", "\u{2F800}",
    ]

    @Test(arguments: expandingCharacters)
    func expandingCharactersNeverYieldMoreThanSixtyFourBytes(character: Unicode.Scalar) {
        for count in 1...70 {
            let repeated = String(repeating: String(character), count: count)
            for typed in [repeated, "a" + repeated, "ཀ" + repeated, repeated + " x"] {
                guard let name = try? Username(typed) else { continue }
                #expect(name.canonical.utf8.count <= Username.maximumCanonicalBytes, "U+\(String(character.value, radix: 16)) x \(count)")
                #expect(name.canonical.count <= Username.maximumCharacters)
                #expect(name.skeleton.utf8.count <= Username.maximumSkeletonBytes)
            }
        }
    }

    @Test func combiningMarksPerCharacterAreBounded() throws {
        // A Tibetan stack with three marks is a real syllable; five marks on one letter are not.
        _ = try Username("བསྒྲུབས")
        _ = try Username("ཀ\u{F71}\u{F72}\u{F7E}\u{F7F}")
        #expect(throws: LedgerError.self) { try Username("ཀ\u{F71}\u{F72}\u{F7E}\u{F7F}\u{F80}") }
    }

    // MARK: - Scripts

    @Test(arguments: ["аlice", "pаypal", "alіce", "αlice", "Ꭺlice", "ivan иван", "日本x", "abc١٢", "ab\u{F40}"])
    func mixedScriptNamesAreRefused(name: String) {
        #expect(throws: LedgerError.self) { try Username(name) }
    }

    @Test(arguments: ["иван", "αλίκη", "日本語かな", "한국漢", "ｱｲｳ", "abc123", "أحمد١٢", "ab 12.x_y-z", "ইসলাম", "שלום", "007"])
    func singleScriptNamesAreAccepted(name: String) throws {
        _ = try Username(name)
    }

    // MARK: - Skeletons

    @Test(arguments: ["ａｌｉｃｅ", "аlice", "alıce", "ALICE", "Alice", "𝐚𝐥𝐢𝐜𝐞", "ⓐⓛⓘⓒⓔ", "ɑlice", "a1ice", "alіce", "ali\u{200B}ce", "aⅼice"])
    func lookalikesOfAliceShareItsSkeletonOrAreRefused(name: String) throws {
        let alice = try Username("alice")
        guard let lookalike = try? Username(name) else { return }
        #expect(lookalike.skeleton == alice.skeleton)
    }

    @Test func lookalikesAcceptedAsNamesCollideWithAlice() throws {
        let alice = try Username("alice").skeleton
        #expect(try Username("alıce").skeleton == alice)
        #expect(try Username("a1ice").skeleton == alice)
        #expect(try Username("ɑlice").skeleton == alice)
        #expect(try Username("AL1CE").skeleton == Username("allce").skeleton, "1 looks like l (confusables.txt)")
        #expect(try Username("b0b").skeleton == Username("bob").skeleton, "0 looks like o")
        #expect(try Username("rn").skeleton == Username("m").skeleton)
        #expect(try Username("bob").skeleton != alice)
    }

    @Test func bothGreekSigmasAreOneName() throws {
        #expect(try Username("σ") == Username("ς"))
        #expect(try Username("οδυσσευς") == Username("ΟΔΥΣΣΕΥΣ"))
        #expect(try Username("οδυσσευς").skeleton == Username("οδυσσευσ").skeleton)
    }

    @Test func canonicalNamesOfEachScriptHaveTheirOwnSkeleton() throws {
        let names = try ["alice", "bob", "carol", "иван", "αλίκη", "测试", "한국", "שלום"].map { try Username($0).skeleton }
        #expect(Set(names).count == names.count)
    }

    // MARK: - Reserved names

    @Test(arguments: ["system", "SYSTEM", "System", "ｓｙｓｔｅｍ", "ſystem", "ⓢⓨⓢⓣⓔⓜ", "𝐬𝐲𝐬𝐭𝐞𝐦", "systern", "ꜱystem", "sʏstem", "sуstem"])
    func systemAndItsLookalikesCannotBeRegistered(name: String) {
        #expect(throws: LedgerError.self) { try Username(registering: name) }
    }

    @Test(arguments: ["carol.", "-carol", "_carol", ".carol", "carol-", "...a"])
    func newNamesBeginAndEndWithALetterOrDigitButOldOnesAreStillFound(name: String) throws {
        #expect(throws: LedgerError.self) { try Username(registering: name) }
        #expect(try Username(name).canonical == name, "found at login and as a recipient")
    }

    /// Letters drawn as punctuation (modifier letters) pass for `carol'`, `carol:` or `carol·`.
    @Test(arguments: ["carol\u{02BC}", "carol\u{02D1}", "carol\u{A78F}", "carol\u{02D0}", "carol\u{02CC}", "carol\u{2E2F}", "carol\u{02BA}", "\u{02BC}carol"])
    func lettersThatLookLikePunctuationDoNotBeginOrEndANewName(name: String) {
        #expect(throws: LedgerError.self, "\(name.unicodeScalars.map { String($0.value, radix: 16) })") { try Username(registering: name) }
    }

    @Test func namesInScriptsWithModifierLettersInsideOrAtTheEndStillRegister() throws {
        #expect(try Username(registering: "ユーザー").canonical == "ユーザー", "the katakana prolonged sound mark ends many names")
        #expect(try Username(registering: "o\u{02BC}neill").canonical == "o\u{02BC}neill", "inside a name it is an apostrophe")
    }

    @Test func namesWithPunctuationInsideStillRegister() throws {
        #expect(try Username(registering: "jean-luc.picard_2").canonical == "jean-luc.picard_2")
        #expect(try Username(registering: "अनु").canonical == "अनु", "a name may end with a mark")
    }

    @Test func reservedNamesStayUsableForLookups() throws {
        let system = try Username("system")
        #expect(system.isReserved)
        #expect(system == SystemAccount.username)
        #expect(SystemAccount.username.isReserved)
        #expect(try !Username("systems").isReserved)
        #expect(try Username(registering: "systems").canonical == "systems")
        #expect(throws: LedgerError.invalidUsername("that name is reserved")) { try Username(registering: "System") }
    }

    // MARK: - Messages

    @Test(arguments: ["аlice", "a" + String(repeating: "\u{F73}", count: 66), "evil\u{202E}gnp", "ſystem", "..", "al  ice"])
    func refusalsNameTheRuleButNotTheName(name: String) throws {
        do throws(LedgerError) {
            _ = try Username(registering: name)
            Issue.record("accepted")
        } catch {
            guard case .invalidUsername(let message) = error else { throw error }
            #expect(!message.isEmpty)
            #expect(!message.contains(name))
            #expect(!message.unicodeScalars.contains { $0.value >= 0x80 })
        }
    }

    // MARK: - Stored names

    @Test func storedNamesGetTheirLookupFormAndSkeleton() throws {
        let alice = Username.keys(forStoredName: "alice")
        #expect(alice == Username.StoredNameKeys(lookupForm: "alice", skeleton: "alice", refusal: nil))
        let strasse = Username.keys(forStoredName: "straße")
        #expect(strasse.lookupForm == "strasse")
        #expect(strasse.refusal == nil)
        #expect(strasse.skeleton == Username(trustedCanonical: "straße").skeleton)
        let mixed = Username.keys(forStoredName: "аlice")
        #expect(mixed.lookupForm == "аlice")
        #expect(mixed.skeleton == alice.skeleton)
        #expect(mixed.refusal != nil)
        let long = Username.keys(forStoredName: "a" + String(repeating: "\u{F71}\u{F72}", count: 66))
        #expect(long.lookupForm.utf8.count == 397)
        #expect(long.refusal != nil)
        #expect(Username.keys(forStoredName: "system").refusal == nil)
    }

    @Test func storedNamesKeepTheirBytes() {
        #expect(Username(trustedCanonical: "straße").canonical == "straße")
        #expect(Username(trustedCanonical: "straße") != Username(trustedCanonical: "strasse"))
    }

    // MARK: - Properties over random text

    @Test func canonicalFormIsIdempotentOverRandomScalars() {
        var seeds = SystemRandomNumberGenerator()
        let seed = seeds.next()
        // Seeded, so that the seed in a failure's message reproduces it.
        var generator = SplitMix64(seed: seed)
        var accepted = 0
        for _ in 0..<10_000 {
            let text = RandomNames.assignedText(length: Int.random(in: 1...6, using: &generator), using: &generator)
            let keys = Username.keys(forStoredName: text)
            #expect(Username.keys(forStoredName: keys.lookupForm) == Username.StoredNameKeys(lookupForm: keys.lookupForm, skeleton: keys.skeleton, refusal: keys.refusal), "seed \(seed)")
            guard let name = try? Username(text) else { continue }
            accepted += 1
            #expect((try? Username(name.canonical))?.canonical == name.canonical, "seed \(seed)")
            #expect(keys.lookupForm == name.canonical && keys.skeleton == name.skeleton, "seed \(seed)")
        }
        #expect(accepted > 500, "seed \(seed)")
    }

    @Test func randomTextNeverCrashes() {
        var seeds = SystemRandomNumberGenerator()
        let seed = seeds.next()
        var generator = SplitMix64(seed: seed)
        var texts = [
            "a" + String(repeating: "\u{301}", count: 1_000), String(repeating: "\u{F73}", count: 400), String(repeating: "\u{FDFA}", count: 90),
            "\u{D7FF}\u{E000}\u{FFFE}\u{FFFF}\u{10FFFF}", String(repeating: "\u{1100}\u{1161}\u{11A8}", count: 100), String(repeating: "\u{0}", count: 300),
        ]
        for _ in 0..<2_000 {
            texts.append(RandomNames.anyText(length: Int.random(in: 0...90, using: &generator), using: &generator))
        }
        for text in texts {
            let name = try? Username(text)
            _ = try? Username(registering: text)
            _ = Username(trustedCanonical: text).skeleton
            _ = Username.keys(forStoredName: text)
            if let name {
                #expect(name.canonical.utf8.count <= Username.maximumCanonicalBytes, "seed \(seed)")
                #expect(name.skeleton.utf8.count <= Username.maximumSkeletonBytes, "seed \(seed)")
            }
        }
    }

    @Test func canonicalisingTakesMicroseconds() throws {
        let names = ["alice", "ｍüｌｌｅｒ-lüdenscheidt", "ཀཱིཀཱིཀཱི", "σίσυφος παπαδόπουλος", String(repeating: "测", count: 21)]
        let clock = ContinuousClock()
        var bytes = 0
        let elapsed = try clock.measure {
            for _ in 0..<200 {
                for name in names {
                    let username = try Username(registering: name)
                    bytes += username.canonical.utf8.count + username.skeleton.utf8.count
                }
            }
        }
        #expect(bytes > 0)
        // 1,000 names, each canonicalised and skeletonised in a few microseconds in a release
        // build; the bound leaves room for a debug build on a busy machine.
        #expect(elapsed < .seconds(5), "\(elapsed)")
    }
}

/// Whether the toolchain's own Unicode data is version 17.0, the tables' version: U+16EA0 is
/// assigned in 17.0, the 18.0 letter U+0558 not yet.
enum ToolchainUnicode {
    static let isVersion17: Bool = {
        let age = Unicode.Scalar(0x16EA0)?.properties.age
        return age?.major == 17 && age?.minor == 0 && Unicode.Scalar(0x0558)?.properties.age == nil
    }()
}

/// The tables against the Swift standard library's own Unicode data, when the toolchain carries
/// the same Unicode version.
@Suite(.enabled(if: ToolchainUnicode.isVersion17))
struct UnicodeTableTests {
    @Test func tablesAreUnicodeSeventeen() {
        #expect(UnicodeTables.unicodeVersion == "17.0.0")
        #expect(Username.unicodeVersion == "17.0.0")
    }

    @Test func characterClassesAndCombiningClassesMatchTheStandardLibrary() {
        var mismatches: [UInt32] = []
        for value in UInt32(0)...0x10FFFF {
            guard let scalar = Unicode.Scalar(value) else { continue }
            let properties = NameUnicode.properties(value)
            if properties.characterClass != Self.expectedClass(scalar) || properties.combiningClass != UInt8(scalar.properties.canonicalCombiningClass.rawValue) {
                mismatches.append(value)
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(10).map { String($0, radix: 16) })")
    }

    @Test func nfkcCaseFoldingChangesExactlyWhatTheStandardLibrarySays() {
        var mismatches: [UInt32] = []
        for value in UInt32(0)...0x10FFFF {
            guard let scalar = Unicode.Scalar(value), NameUnicode.properties(value).characterClass != .forbidden else { continue }
            let changes = NameUnicode.foldedAndComposed([value]) != [value]
            if changes != scalar.properties.changesWhenNFKCCaseFolded { mismatches.append(value) }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(10).map { String($0, radix: 16) })")
    }

    @Test func compositionMatchesTheStandardLibrarysNFC() {
        var seeds = SystemRandomNumberGenerator()
        let seed = seeds.next()
        var generator = SplitMix64(seed: seed)
        for _ in 0..<20_000 {
            // Scalars NFKC_Casefold leaves alone, so that the name pipeline reduces to NFC.
            var text = String.UnicodeScalarView()
            let length = Int.random(in: 1...8, using: &generator)
            for _ in 0..<(length * 32) where text.count < length {
                let scalar = RandomNames.markHeavyScalar(using: &generator)
                if !scalar.properties.changesWhenNFKCCaseFolded, NameUnicode.properties(scalar.value).characterClass != .forbidden {
                    text.append(scalar)
                }
            }
            let string = String(text)
            let expected = String(decoding: string._nfcCodeUnits, as: UTF8.self)
            #expect(NameRules.canonical(string, scalarLimit: .max).unicodeScalars.elementsEqual(expected.unicodeScalars), "seed \(seed): \(string.unicodeScalars.map { String($0.value, radix: 16) })")
        }
    }

    static func expectedClass(_ scalar: Unicode.Scalar) -> NameUnicode.CharacterClass {
        let properties = scalar.properties
        switch properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned:
            return .forbidden
        case .decimalNumber:
            return .letterOrDigit
        case .nonspacingMark, .spacingMark, .enclosingMark:
            return properties.isAlphabetic ? .mark : .other
        case .spaceSeparator, .otherPunctuation, .dashPunctuation, .connectorPunctuation:
            if " .-_".unicodeScalars.contains(scalar) { return .punctuation }
            return properties.isAlphabetic ? .letterOrDigit : .other
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter, .letterNumber, .otherNumber,
             .openPunctuation, .closePunctuation, .initialPunctuation, .finalPunctuation, .mathSymbol, .currencySymbol,
             .modifierSymbol, .otherSymbol, .lineSeparator, .paragraphSeparator:
            return properties.isAlphabetic ? .letterOrDigit : .other
        @unknown default:
            return .other
        }
    }
}

/// Random text for the name properties: assigned scalars, or anything at all.
enum RandomNames {
    /// Blocks dense in letters, marks and compatibility forms, drawn from as often as the rest.
    static let interestingRanges: [ClosedRange<UInt32>] = [
        0x20...0x7E, 0xA0...0x24F, 0x300...0x36F, 0x370...0x3FF, 0x400...0x4FF, 0x590...0x5FF, 0x600...0x6FF, 0x900...0x97F,
        0xF00...0xFFF, 0x1100...0x11FF, 0x1E00...0x1FFF, 0x2150...0x24FF, 0x3000...0x33FF, 0xAC00...0xD7A3, 0xFB00...0xFFEF,
        0x1D400...0x1D7FF, 0x1F100...0x1F1FF,
    ]

    static func scalar(in ranges: [ClosedRange<UInt32>], using generator: inout some RandomNumberGenerator) -> Unicode.Scalar {
        for _ in 0..<16 {
            let range = ranges.randomElement(using: &generator) ?? 0x61...0x7A
            if let scalar = Unicode.Scalar(UInt32.random(in: range, using: &generator)) { return scalar }
        }
        return "a"
    }

    /// Text of assigned, not forbidden scalars.
    static func assignedText(length: Int, using generator: inout some RandomNumberGenerator) -> String {
        var text = String.UnicodeScalarView()
        for _ in 0..<(length * 32) where text.count < length {
            let scalar = Bool.random(using: &generator)
                ? Self.scalar(in: Self.interestingRanges, using: &generator)
                : Self.scalar(in: [0...0x10FFFF], using: &generator)
            if NameUnicode.properties(scalar.value).characterClass != .forbidden { text.append(scalar) }
        }
        return String(text)
    }

    /// Text of any scalars: unassigned, private use, next to the surrogates, long mark runs.
    static func anyText(length: Int, using generator: inout some RandomNumberGenerator) -> String {
        let ranges: [ClosedRange<UInt32>] = Self.interestingRanges + [0...0x10FFFF, 0xD7F0...0xD7FF, 0xE000...0xE0FF, 0xFFF0...0xFFFF, 0xE0000...0xE01EF, 0x10FFF0...0x10FFFF]
        var text = String.UnicodeScalarView()
        for _ in 0..<length {
            if UInt8.random(in: 0...15, using: &generator) == 0 {
                let mark = Self.scalar(in: [0x300...0x36F, 0xF71...0xF84], using: &generator)
                text.append(contentsOf: repeatElement(mark, count: Int.random(in: 1...40, using: &generator)))
            } else {
                text.append(Self.scalar(in: ranges, using: &generator))
            }
        }
        return String(text)
    }

    /// A scalar from letters, combining marks and Hangul jamo, to exercise reordering and composition.
    static func markHeavyScalar(using generator: inout some RandomNumberGenerator) -> Unicode.Scalar {
        Self.scalar(in: [
            0x41...0x7A, 0xC0...0x17F, 0x300...0x36F, 0x370...0x3FF, 0x591...0x5C7, 0x900...0x97F, 0xF40...0xF84, 0x1100...0x11FF,
            0x1DC0...0x1DFF, 0x1E00...0x1FFF, 0x20D0...0x20F0, 0x3099...0x309A, 0xAC00...0xD7A3, 0x105C0...0x105F3, 0x11100...0x11134,
        ], using: &generator)
    }
}
