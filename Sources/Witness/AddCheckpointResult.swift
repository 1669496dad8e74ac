public import IntegraTransparency

/// What a witness answered to `add-checkpoint`.
public enum AddCheckpointResult: Hashable, Sendable {
    /// 200: the witness's cosignature, verified with its key; add it to the note with
    /// `SignedNote.adding(_:)`.
    case cosigned(NoteSignature)
    /// 409: the witness has cosigned `latestTreeSize`, not the old size sent. Push again from
    /// that size, with a consistency proof from it (a log whose tree is smaller has a problem).
    case conflict(latestTreeSize: UInt64)
    /// Any other refusal: the HTTP status (c2sp.org/tlog-witness: 400 malformed or smaller than
    /// the old size, 403 not signed by the log's key the witness knows, 404 unknown origin, 413
    /// too large, 422 inconsistent with what the witness cosigned) and the witness's first line.
    case refused(status: Int, message: String)

    /// The longest refusal message kept.
    static let maximumMessageCount = 200

    /// Reads an answer. A 200 must carry a valid cosignature of the note's checkpoint by
    /// `witness`, and a 409 a size, or the answer is `WitnessClientError.invalidResponse`.
    static func parsing(status: Int, body: [UInt8], noteBytes: [UInt8], witness: NoteVerifier) throws(WitnessClientError) -> AddCheckpointResult {
        switch status {
        case 200:
            // c2sp.org/tlog-witness: the client "MAY concatenate it to the checkpoint, and use a note
            // verification function configured with the witness keys it trusts". The note's own
            // signatures are left out, so that only the answer's lines count.
            guard let note = try? SignedNote(parsing: noteBytes),
                  let answer = try? SignedNote(parsing: Array((note.text + "\n").utf8) + body)
            else { throw .invalidResponse("the witness's 200 answer is not note signature lines") }
            guard let cosignature = try? answer.verifiedSignatures(by: [witness]).first else {
                throw .invalidResponse("the witness's 200 answer carries no valid cosignature by \(witness.keyName)")
            }
            return .cosigned(cosignature)
        case 409:
            guard body.last == WitnessRequest.newline, let size = WitnessRequest.decimal(body.dropLast()) else {
                throw .invalidResponse("the witness's 409 answer is not a tree size")
            }
            return .conflict(latestTreeSize: size)
        default:
            let line = body.prefix { $0 != WitnessRequest.newline }.prefix(Self.maximumMessageCount)
            let message = String(decoding: line, as: UTF8.self).filter { $0.unicodeScalars.allSatisfy { $0.value >= 0x20 } }
            return .refused(status: status, message: message)
        }
    }
}

/// Why `WitnessClient.addCheckpoint` got no answer it could use.
public enum WitnessClientError: Error, Hashable, Sendable, CustomStringConvertible {
    /// No HTTP answer: the witness is unreachable, refused the connection, or took longer than
    /// the client's timeout.
    case transport(String)
    /// An answer that breaks the protocol: a 200 without a valid cosignature by the witness's
    /// key, a 409 without a size, an answer too large.
    case invalidResponse(String)

    public var description: String {
        switch self {
        case .transport(let reason): "the witness could not be reached: \(reason)"
        case .invalidResponse(let reason): reason
        }
    }
}
