/// Standard base64 (RFC 4648 §4, with padding), as c2sp.org/signed-note and tlog-checkpoint use
/// it. Decoding accepts only the canonical encoding: the one `encode` produces.
///
/// Go's `encoding/base64` (behind golang.org/x/mod/sumdb/note) also accepts non-zero padding bits
/// and skips line breaks; notes forbid line breaks inside a line anyway, and refusing the other
/// spellings means one signature or hash has one text.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let padding = UInt8(ascii: "=")

    /// The canonical base64 text of `bytes`.
    static func encode(_ bytes: [UInt8]) -> String {
        var text: [UInt8] = []
        text.reserveCapacity((bytes.count + 2) / 3 * 4)
        var offset = 0
        while offset < bytes.count {
            let chunk = bytes[offset..<min(offset + 3, bytes.count)]
            var group = UInt32(0)
            for (position, byte) in chunk.enumerated() {
                group |= UInt32(byte) << (16 - 8 * UInt32(position))
            }
            for position in 0..<4 {
                if position <= chunk.count {
                    text.append(Self.alphabet[Int((group >> (18 - 6 * UInt32(position))) & 0x3F)])
                } else {
                    text.append(Self.padding)
                }
            }
            offset += 3
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// The bytes `text` encodes, or nil unless `text` is exactly the canonical encoding of them.
    static func decode(_ characters: ArraySlice<UInt8>) -> [UInt8]? {
        guard characters.count % 4 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(characters.count / 4 * 3)
        var offset = characters.startIndex
        while offset < characters.endIndex {
            let isLastGroup = offset + 4 == characters.endIndex
            let group = characters[offset..<offset + 4]
            let paddingCount = isLastGroup ? group.reversed().prefix(while: { $0 == Self.padding }).count : 0
            guard paddingCount <= 2 else { return nil }
            var value = UInt32(0)
            for character in group.dropLast(paddingCount) {
                guard let sextet = Self.sextet(character) else { return nil }
                value = value << 6 | UInt32(sextet)
            }
            value <<= 6 * UInt32(paddingCount)
            let byteCount = 3 - paddingCount
            // Canonical: the bits the padding stands for must be zero.
            guard value & ((1 << (8 * UInt32(3 - byteCount))) - 1) == 0 else { return nil }
            for position in 0..<byteCount {
                bytes.append(UInt8(truncatingIfNeeded: value >> (16 - 8 * UInt32(position))))
            }
            offset += 4
        }
        return bytes
    }

    private static func sextet(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): character - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): character - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0") + 52
        case UInt8(ascii: "+"): 62
        case UInt8(ascii: "/"): 63
        default: nil
        }
    }
}
