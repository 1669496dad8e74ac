import IntegraTransparency

/// The body of `POST /add-checkpoint` (c2sp.org/tlog-witness): an old size line, zero or more
/// consistency proof lines, an empty line, then the log's signed checkpoint. Pure: the witness
/// parses it, a log's `WitnessClient` formats it.
public struct WitnessRequest: Hashable, Sendable {
    /// The tree size the client believes the witness has cosigned (0 before the first checkpoint).
    public let oldSize: UInt64
    /// The RFC 9162 consistency proof from `oldSize` to the checkpoint's size, 32-byte hashes.
    public let consistencyProof: [[UInt8]]
    /// The signed checkpoint note, as the log signed it.
    public let noteBytes: [UInt8]

    /// The largest body the witness reads: a note is at most 16 KiB, the proof lines about 3 KiB.
    public static let maximumByteCount = 65_536
    /// The most proof lines: "The client MUST NOT send more than 63 consistency proof lines."
    public static let maximumProofLineCount = 63

    /// A request to send; `WitnessClient` builds it.
    public init(oldSize: UInt64, consistencyProof: [[UInt8]], noteBytes: [UInt8]) {
        self.oldSize = oldSize
        self.consistencyProof = consistencyProof
        self.noteBytes = noteBytes
    }

    /// Parses a request body strictly: `old <decimal without leading zeros>`, canonical base64 of
    /// 32-byte hashes (none when the old size is 0), an empty line, and a non-empty note; every
    /// line ends in a newline. The note itself is checked by `WitnessState`.
    public init(parsing body: [UInt8]) throws(WitnessRequestError) {
        guard body.count <= Self.maximumByteCount else { throw WitnessRequestError("the request is larger than \(Self.maximumByteCount) bytes") }
        guard let oldLineEnd = body.firstIndex(of: Self.newline) else { throw WitnessRequestError("the request has no old size line") }
        let oldLine = body[..<oldLineEnd]
        guard oldLine.starts(with: Self.oldPrefix), let oldSize = Self.decimal(oldLine.dropFirst(Self.oldPrefix.count)) else {
            throw WitnessRequestError("the first line is not \"old\", a space and a decimal tree size without leading zeros")
        }
        var proof: [[UInt8]] = []
        var lineStart = oldLineEnd + 1
        // At most 63 proof lines and the empty line: the loop ends within 64 turns.
        while true {
            guard let lineEnd = body[lineStart...].firstIndex(of: Self.newline) else {
                throw WitnessRequestError("the proof lines are not followed by an empty line")
            }
            let line = body[lineStart..<lineEnd]
            lineStart = lineEnd + 1
            if line.isEmpty { break }
            guard proof.count < Self.maximumProofLineCount else {
                throw WitnessRequestError("the request has more than \(Self.maximumProofLineCount) consistency proof lines")
            }
            guard let hash = CanonicalBase64.decode(line), hash.count == MerkleTree.hashByteCount else {
                throw WitnessRequestError("consistency proof line \(proof.count + 1) is not the base64 of a 32-byte hash")
            }
            proof.append(hash)
        }
        guard oldSize > 0 || proof.isEmpty else { throw WitnessRequestError("a consistency proof from the empty tree (old 0) must be empty") }
        guard lineStart < body.endIndex else { throw WitnessRequestError("the request has no checkpoint after the empty line") }
        self.init(oldSize: oldSize, consistencyProof: proof, noteBytes: Array(body[lineStart...]))
    }

    /// The request body.
    public var bytes: [UInt8] {
        var body = Array("old \(self.oldSize)\n".utf8)
        for hash in self.consistencyProof {
            body += Array(CanonicalBase64.encode(hash).utf8) + [Self.newline]
        }
        return body + [Self.newline] + self.noteBytes
    }

    /// The note's first line, the checkpoint's origin, which names the log the request is for.
    var origin: [UInt8] {
        Array(self.noteBytes.prefix { $0 != Self.newline })
    }

    /// A decimal number as tlog specs write sizes: ASCII digits, no sign, no leading zeros
    /// (unless it is 0), at most 2^64 - 1.
    static func decimal(_ digits: some Collection<UInt8>) -> UInt64? {
        guard digits.count <= 20, let value = UInt64(String(decoding: digits, as: UTF8.self)),
              String(value).utf8.elementsEqual(digits)
        else { return nil }
        return value
    }

    static let newline = UInt8(ascii: "\n")
    private static let oldPrefix = Array("old ".utf8)
}

/// A request body that breaks the format of c2sp.org/tlog-witness (answered 400). The message
/// names the rule and never echoes the input.
public struct WitnessRequestError: Error, Hashable, Sendable, CustomStringConvertible {
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}
