import Foundation

/// Standard base64 with padding (RFC 4648 §4), as the witness protocol's proof lines, signature
/// lines and key files use it. Decoding takes only the canonical text of the bytes, so one hash
/// or key has one spelling (as `IntegraLedger` parses signed notes).
enum CanonicalBase64 {
    /// The base64 text of `bytes`.
    static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
    }

    /// The bytes `text` encodes, or nil unless `text` is exactly what `encode` gives for them
    /// (no line breaks, no spaces, zero padding bits).
    static func decode(_ text: some Collection<UInt8>) -> [UInt8]? {
        guard let data = Data(base64Encoded: Data(text)), data.base64EncodedString().utf8.elementsEqual(text) else { return nil }
        return Array(data)
    }
}
