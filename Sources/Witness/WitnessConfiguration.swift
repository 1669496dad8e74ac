public import IntegraTransparency
public import IntegraProtocol

/// How a witness runs: where its key and records are, where it listens, and which logs it
/// witnesses (each by the verifier key of its checkpoints, whose name is the log's origin).
public struct WitnessConfiguration: Sendable {
    /// Holds `witness.key`, the latest cosigned checkpoint of each log and `alarms.jsonl`.
    public var dataDirectory: String
    /// The address to listen on; HTTP, because a cosignature needs no channel to be trusted.
    public var host: String
    /// The port to listen on; 0 picks a free one (tests).
    public var port: Int
    /// The logs witnessed: their checkpoint keys (signature type 0x01), one per origin.
    public var logVerifiers: [NoteVerifier]
    /// Closes a connection that sends nothing for this long.
    public var idleTimeoutSeconds: Int64 = 60
    /// The cosignatures' timestamps come from here.
    public var clock: WallClock = .system

    /// Where `integra-witness run` listens unless told otherwise.
    public static let defaultListen = "127.0.0.1:9470"

    public init(dataDirectory: String, host: String, port: Int, logVerifiers: [NoteVerifier]) {
        self.dataDirectory = dataDirectory
        self.host = host
        self.port = port
        self.logVerifiers = logVerifiers
    }

    /// Parses a log's verifier key (`<origin>+<hex key ID>+<base64(0x01 ‖ public key)>`), as the
    /// log's operator publishes it; a witness's own key (type 0x04) is refused.
    public static func logVerifier(verifierKey: String) throws(ConfigurationError) -> NoteVerifier {
        let verifier: NoteVerifier
        do {
            verifier = try NoteVerifier(verifierKey: verifierKey)
        } catch {
            throw ConfigurationError("the log key \"\(verifierKey)\" is not a verifier key: \(error.witnessMessage)")
        }
        switch verifier.signatureType {
        case .ed25519: return verifier
        case .timestampedEd25519Cosignature:
            throw ConfigurationError("the log key \(verifier.keyName) is a witness's cosigning key (type 0x04); give the log's checkpoint key (type 0x01)")
        }
    }

    /// Checks what `run` needs: at least one log, one key per origin, a port.
    public func validate() throws(ConfigurationError) {
        guard !self.logVerifiers.isEmpty else { throw ConfigurationError("a witness needs the key of at least one log (--log-key)") }
        var origins: Set<[UInt8]> = []
        for verifier in self.logVerifiers where !origins.insert(Array(verifier.keyName.utf8)).inserted {
            throw ConfigurationError("two log keys are named \(verifier.keyName); a witness takes one key per log origin")
        }
        guard (0...65_535).contains(self.port) else { throw ConfigurationError("the port must be from 0 to 65535") }
        guard self.idleTimeoutSeconds > 0 else { throw ConfigurationError("the idle timeout must be positive") }
    }
}

extension SignedNoteError {
    /// One line for an operator; like the cases, it never echoes the input.
    var witnessMessage: String {
        switch self {
        case .noteTooLarge(let byteCount): "the note is \(byteCount) bytes, more than \(SignedNote.maximumByteCount)"
        case .tooManySignatures: "the note has more than \(SignedNote.maximumSignatureCount) signatures"
        case .malformedNote(let rule), .malformedVerifierKey(let rule), .malformedCheckpoint(let rule): rule
        case .invalidKeyName: "a key name is non-empty and contains neither spaces nor \"+\""
        case .invalidSignature(let keyName, _): "the signature by \(keyName) does not verify"
        case .notSignedByKnownKey: "it carries no signature by the expected key"
        case .ambiguousVerifiers(let keyName, _): "two keys named \(keyName) have the same key ID"
        case .invalidTimestamp: "a cosignature's timestamp is past 2^63 - 1"
        case .signingFailed: "signing failed"
        }
    }
}
