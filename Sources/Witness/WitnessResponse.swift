import IntegraTransparency

/// What the witness answers to `POST /add-checkpoint`, as c2sp.org/tlog-witness gives it: the
/// cosignature line on 200, the witness's size on 409, a one-line reason otherwise. Pure.
struct WitnessResponse: Hashable, Sendable {
    let status: Int
    let contentType: String
    let body: [UInt8]

    /// The content type of a 409's body, the witness's latest size.
    static let treeSizeContentType = "text/x.tlog.size"
    static let textContentType = "text/plain; charset=utf-8"

    /// 200: the note signature line the witness adds, `— <name> base64(key ID ‖ timestamp ‖ signature)`.
    static func cosigned(_ cosignature: NoteSignature) -> WitnessResponse {
        WitnessResponse(status: 200, contentType: Self.textContentType, body: Array(Self.signatureLine(cosignature).utf8))
    }

    /// The refusal's status (`WitnessRefusal.httpStatus`); a 409 carries the witness's size.
    static func refused(_ refusal: WitnessRefusal) -> WitnessResponse {
        switch refusal {
        case .oldSizeMismatch(let latestTreeSize):
            WitnessResponse(status: refusal.httpStatus, contentType: Self.treeSizeContentType, body: Array("\(latestTreeSize)\n".utf8))
        case .unknownLog:
            Self.text(refusal.httpStatus, "this witness does not witness the checkpoint's origin")
        case .notSignedByTheLog:
            Self.text(refusal.httpStatus, "the checkpoint is malformed or not signed by the log's key")
        case .smallerThanOldSize:
            Self.text(refusal.httpStatus, "the checkpoint is smaller than the old size")
        case .inconsistent:
            Self.text(refusal.httpStatus, "the checkpoint is not consistent with the checkpoint this witness cosigned")
        }
    }

    /// 400: the body breaks the request format.
    static func malformed(_ error: WitnessRequestError) -> WitnessResponse {
        Self.text(400, "malformed request: \(error.description)")
    }

    /// 500: the checkpoint could not be recorded, so it was not cosigned.
    static let notRecorded = Self.text(500, "the witness could not record the checkpoint; it was not cosigned")

    private static func text(_ status: Int, _ line: String) -> WitnessResponse {
        WitnessResponse(status: status, contentType: Self.textContentType, body: Array((line + "\n").utf8))
    }

    /// A signature line of c2sp.org/signed-note: em dash, space, key name, space, base64 of the
    /// big-endian key ID and the signature bytes, newline.
    static func signatureLine(_ signature: NoteSignature) -> String {
        let keyIDBytes = (0..<4).map { UInt8(truncatingIfNeeded: signature.keyID >> (24 - 8 * UInt32($0))) }
        return "\u{2014} \(signature.keyName) \(CanonicalBase64.encode(keyIDBytes + signature.signatureBytes))\n"
    }
}
