import Crypto
import IntegraProtocol

/// File and directory names made from text the client does not control (customer names,
/// transfer ids): an injective encoding whose result is always one safe path component.
///
/// Bytes of `[a-z0-9_-]` are kept, `.` too except as the first byte, and every other UTF-8 byte
/// becomes `%` and two upper-case hex digits; the empty text becomes `%`. The result is never
/// empty, `.` or `..`, holds no `/`, and differs for different texts, even on a file system that
/// ignores case (letters are kept in lower case only, hex digits are upper case). An encoding
/// longer than `maximumCharacters` becomes its first `longFormPrefixCharacters` characters, `~`
/// and the SHA-256 of the text in lower-case hex (no short form contains `~`), so that every
/// name fits in a file name together with a suffix and the temporary suffix of an atomic
/// replacement.
public enum FileNameEncoding {
    /// The longest encoding kept as it is, in characters (all ASCII).
    public static let maximumCharacters = 160
    /// How much of a long encoding stays readable in front of its digest.
    static let longFormPrefixCharacters = 96

    /// The path component for `text`.
    public static func encode(_ text: String) -> String {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { return "%" }
        var encoded: [UInt8] = []
        encoded.reserveCapacity(bytes.count)
        for (index, byte) in bytes.enumerated() {
            if Self.isKept(byte, first: index == 0) {
                encoded.append(byte)
            } else {
                encoded.append(UInt8(ascii: "%"))
                encoded.append(Self.hexDigits[Int(byte >> 4)])
                encoded.append(Self.hexDigits[Int(byte & 0x0F)])
            }
        }
        guard encoded.count > Self.maximumCharacters else { return String(decoding: encoded, as: UTF8.self) }
        var prefixEnd = Self.longFormPrefixCharacters
        // Never cut through a "%XX": back up to its '%'.
        for back in 1...2 where encoded[prefixEnd - back] == UInt8(ascii: "%") {
            prefixEnd -= back
            break
        }
        return String(decoding: encoded[..<prefixEnd], as: UTF8.self) + "~" + SHA256.hash(data: bytes).hexString
    }

    private static let hexDigits = Array("0123456789ABCDEF".utf8)

    private static func isKept(_ byte: UInt8, first: Bool) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
            true
        case UInt8(ascii: "."):
            !first
        default:
            false
        }
    }
}
