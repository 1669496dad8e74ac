import Crypto
import Foundation
import IntegraFiles
public import IntegraTransparency
public import IntegraProtocol

/// What the witness remembers in its data directory: per log, the latest checkpoint it cosigned,
/// and the evidence of every alarm.
///
/// The checkpoint is a secret file (mode 0600, no links) replaced atomically and synced before
/// the cosignature leaves the witness, so no crash or restart can make the witness cosign a
/// checkpoint that does not extend one it has handed out. Alarms are appended to `alarms.jsonl`
/// and synced; nothing removes them.
public struct WitnessStore: Sendable {
    /// The witness's data directory.
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    /// The append-only record of alarms, one JSON object per line.
    public static let alarmsFileName = "alarms.jsonl"
    /// The most bytes of alarms `alarms()` reads.
    static let maximumAlarmsByteCount = 64 << 20
    private static let checkpointFilePrefix = "latest-"
    private static let checkpointFileSuffix = ".note"

    /// The latest checkpoint cosigned for the log of `logVerifier`, re-verified with the log's key;
    /// nil if the witness has cosigned none. A record that does not verify is an error, never
    /// taken as "none": the witness must not start from the empty tree again.
    public func latestCheckpoint(of logVerifier: NoteVerifier) throws(ConfigurationError) -> TreeCheckpoint? {
        let path = self.checkpointPath(origin: logVerifier.keyName)
        guard let data = try Self.readSecretFile(path, maximumBytes: SignedNote.maximumByteCount) else { return nil }
        do {
            return try TreeCheckpoint.opening(Array(data), logVerifier: logVerifier)
        } catch {
            throw ConfigurationError(
                "\(path), the latest checkpoint cosigned for \(logVerifier.keyName), does not verify with the log key given: \(error.witnessMessage); "
                    + "check --log-key (a log that changed its key is a new log to this witness)")
        }
    }

    /// Records `note` (the log's signature and the witness's cosignature) as the latest
    /// checkpoint cosigned for `origin`: written, synced and renamed over the previous one.
    func recordCosigned(_ note: SignedNote, origin: String) throws {
        try SecretFile.write(Data(note.bytes), to: self.checkpointPath(origin: origin))
    }

    /// The text of the note recorded for `origin` (for an alarm's evidence); nil if there is none.
    func latestNoteText(origin: String) throws(ConfigurationError) -> String? {
        try Self.readSecretFile(self.checkpointPath(origin: origin), maximumBytes: SignedNote.maximumByteCount).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Every log's latest cosigned checkpoint, for `status`: parsed, not verified (`status` has no
    /// log keys), with the time of the witness's cosignature when `witness` made one.
    public func cosignedCheckpoints(witness: NoteVerifier) throws(ConfigurationError) -> [CosignedCheckpoint] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: self.directory)
        } catch {
            throw ConfigurationError("cannot list \(self.directory): \(error.localizedDescription)")
        }
        var checkpoints: [CosignedCheckpoint] = []
        for name in names.sorted() where name.hasPrefix(Self.checkpointFilePrefix) && name.hasSuffix(Self.checkpointFileSuffix) {
            let path = "\(self.directory)/\(name)"
            guard let data = try Self.readSecretFile(path, maximumBytes: SignedNote.maximumByteCount),
                  let note = try? SignedNote(parsing: Array(data)),
                  let checkpoint = try? TreeCheckpoint(text: note.text)
            else { throw ConfigurationError("\(path) does not hold a checkpoint") }
            let cosignature = try? note.verifiedSignatures(by: [witness]).first
            checkpoints.append(CosignedCheckpoint(path: path, checkpoint: checkpoint, cosignedAtSeconds: cosignature.map(Self.timestampSeconds)))
        }
        return checkpoints
    }

    /// Appends an alarm's evidence to `alarms.jsonl` and syncs it.
    func recordAlarm(_ alarm: WitnessAlarm) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        try SecretFile.append(try encoder.encode(alarm) + Data("\n".utf8), to: "\(self.directory)/\(Self.alarmsFileName)")
    }

    /// Every alarm recorded, oldest first.
    public func alarms() throws(ConfigurationError) -> [WitnessAlarm] {
        let path = "\(self.directory)/\(Self.alarmsFileName)"
        guard let data = try Self.readSecretFile(path, maximumBytes: Self.maximumAlarmsByteCount) else { return [] }
        var alarms: [WitnessAlarm] = []
        for (index, line) in data.split(separator: UInt8(ascii: "\n")).enumerated() {
            guard let alarm = try? JSONDecoder().decode(WitnessAlarm.self, from: Data(line)) else {
                throw ConfigurationError("\(path): line \(index + 1) is not an alarm record")
            }
            alarms.append(alarm)
        }
        return alarms
    }

    /// `latest-<hex of the first 16 bytes of SHA-256(origin)>.note`: an origin may hold any
    /// character but a file name may not.
    func checkpointPath(origin: String) -> String {
        let digest = Array(SHA256.hash(data: Array(origin.utf8)).prefix(16))
        return "\(self.directory)/\(Self.checkpointFilePrefix)\(digest.hexString)\(Self.checkpointFileSuffix)"
    }

    /// A cosignature's timestamp: its first eight bytes after the key ID, big-endian.
    private static func timestampSeconds(_ cosignature: NoteSignature) -> UInt64 {
        cosignature.signatureBytes.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }

    private static func readSecretFile(_ path: String, maximumBytes: Int) throws(ConfigurationError) -> Data? {
        do {
            return try SecretFile.read(path, maximumBytes: maximumBytes)
        } catch let error as ConfigurationError {
            throw error
        } catch {
            throw ConfigurationError("cannot read \(path): \(error)")
        }
    }
}

/// A log's latest cosigned checkpoint as the data directory holds it.
public struct CosignedCheckpoint: Hashable, Sendable {
    /// The file that holds it.
    public let path: String
    public let checkpoint: TreeCheckpoint
    /// When the witness cosigned it (POSIX seconds); nil if the file carries no cosignature by
    /// the witness's key.
    public let cosignedAtSeconds: UInt64?
}
