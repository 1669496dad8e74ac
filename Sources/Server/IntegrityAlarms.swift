import Foundation
import IntegraFiles
public import IntegraLedger
import IntegraProtocol
public import Logging
import Synchronization

/// The deployment's integrity alarms: durable state, not log lines.
///
/// An alarm is raised when a check finds a row Integra did not write (a balance, an entry, a user
/// row), a ledger that was rolled back or rewritten, or an anchor that can't be read. While any
/// alarm is open the server moves no money and signs nothing new. An alarm stays open until an
/// operator acknowledges it (`integra-server alarms acknowledge ID --reason TEXT`), which goes
/// into the audit trail.
///
/// Alarms live in `alarms.jsonl` in the data directory (append-only, mode 0600: raised and
/// acknowledged events) and, sealed with the storage key, in the store, so instances sharing a
/// database see each other's alarms and nobody without the key can forge an acknowledgement.
/// Deleting rows in the database can't clear an alarm an instance holds in its file.
public final class IntegrityAlarms: Sendable {
    public static let fileName = "alarms.jsonl"
    /// The most alarms kept open; beyond it further findings are summed up in the last one.
    public static let maximumOpen = 100
    /// The largest alarms file read (a file any larger was not written by Integra).
    static let maximumFileBytes = 16 << 20

    private struct State {
        var alarms: [String: AlarmRecord] = [:]
        var order: [String] = []
        /// The file's size when last read: a change means another process wrote to it.
        var fileBytes = 0
    }

    private let path: String
    private let store: (any LedgerStore)?
    private let seal: LedgerSeal
    private let auditTrail: AuditTrail?
    private let logger: Logger
    private let state = Mutex(State())
    private let openCount = Atomic<Int>(0)

    /// Reads the alarms file. One that can't be read is refused: the server does not start over
    /// an alarm state it can't see (move the file aside only after checking what it says).
    public init(dataDirectory: String, store: (any LedgerStore)?, seal: LedgerSeal, auditTrail: AuditTrail?, logger: Logger) throws {
        self.path = "\(dataDirectory)/\(Self.fileName)"
        self.store = store
        self.seal = seal
        self.auditTrail = auditTrail
        self.logger = logger
        try self.reloadFile()
    }

    /// Whether any alarm is open: then money does not move and nothing new is signed.
    public var isRaised: Bool { self.openCount.load(ordering: .acquiring) > 0 }

    /// Every alarm known, oldest first.
    public var all: [AlarmRecord] {
        self.state.withLock { state in state.order.compactMap { state.alarms[$0] } }
    }

    /// The open alarms, oldest first.
    public var open: [AlarmRecord] { self.all.filter(\.isOpen) }

    /// Raises an alarm for a finding, unless the same finding is already open. Recorded in the
    /// file first (the durable record), then in the store and the audit trail; logged critical.
    @discardableResult
    public func raise(_ violation: IntegrityViolation, nowMs: Int64) async -> AlarmRecord {
        let (alarm, isNew, open) = self.state.withLock { state -> (AlarmRecord, Bool, Int) in
            let openAlarms = state.alarms.values.filter(\.isOpen)
            let detail = openAlarms.count >= Self.maximumOpen
                ? "more findings than \(Self.maximumOpen) open alarms hold; run `integra-server verify` for all of them"
                : violation.message
            if let existing = openAlarms.first(where: { $0.kind == violation.kind.rawValue && $0.detail == detail }) {
                return (existing, false, openAlarms.count)
            }
            let alarm = AlarmRecord(id: Self.newID(), kind: violation.kind.rawValue, detail: detail, raisedAtMs: nowMs)
            Self.apply(.raised(alarm), to: &state)
            return (alarm, true, openAlarms.count + 1)
        }
        guard isNew else { return alarm }
        self.openCount.store(open, ordering: .releasing)
        do {
            try self.appendEvent(.raised(alarm))
        } catch {
            self.logger.critical("cannot record an integrity alarm in \(self.path)", metadata: ["error": "\(error)"])
        }
        self.logger.critical("ALARM: \(alarm.kind): \(alarm.detail)", metadata: [
            "alarm": "\(alarm.id)", "acknowledge": "integra-server alarms acknowledge \(alarm.id) --reason TEXT",
        ])
        self.auditTrail?.alarmRaised(alarm, nowMs: nowMs)
        try? await self.store?.recordAlarm(alarm)
        return alarm
    }

    /// Acknowledges an open alarm with the operator's reason.
    public func acknowledge(id: String, reason: String, operatorName: String, nowMs: Int64) async throws -> AlarmRecord {
        try await self.refresh()
        guard var alarm = self.state.withLock({ $0.alarms[id] }) else { throw ConfigurationError("no alarm with id \(id); `integra-server alarms` lists them") }
        guard alarm.isOpen else { throw ConfigurationError("alarm \(id) was already acknowledged") }
        let trimmed = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty, trimmed.utf8.count <= 1_000 else { throw ConfigurationError("give a reason of 1 to 1000 bytes with --reason") }
        alarm.acknowledgedAtMs = nowMs
        alarm.acknowledgement = "\(trimmed) (by \(operatorName))"
        try self.appendEvent(.acknowledged(id: id, atMs: nowMs, reason: alarm.acknowledgement!))
        self.apply(.acknowledged(id: id, atMs: nowMs, reason: alarm.acknowledgement!))
        self.auditTrail?.alarmAcknowledged(alarm, by: operatorName, nowMs: nowMs)
        try? await self.store?.recordAlarm(alarm)
        self.logger.notice("alarm acknowledged", metadata: ["alarm": "\(id)", "reason": "\(trimmed)"])
        return alarm
    }

    /// Picks up what other processes recorded: new lines in the file (an acknowledgement by
    /// `integra-server alarms acknowledge`) and sealed alarm rows in the store (other instances).
    public func refresh() async throws {
        try self.reloadFile()
        guard let store = self.store else { return }
        let rows: [SealedAlarm]
        do {
            rows = try await store.alarms(limit: 10 * Self.maximumOpen)
        } catch {
            return
        }
        for row in rows {
            guard self.seal.isValid(row.mac, expected: self.seal.alarmMAC(row.alarm)) else { continue }
            let known = self.state.withLock { $0.alarms[row.alarm.id] }
            if known == nil {
                try? self.appendEvent(.raised(AlarmRecord(id: row.alarm.id, kind: row.alarm.kind, detail: row.alarm.detail, raisedAtMs: row.alarm.raisedAtMs)))
                self.apply(.raised(AlarmRecord(id: row.alarm.id, kind: row.alarm.kind, detail: row.alarm.detail, raisedAtMs: row.alarm.raisedAtMs)))
            }
            if let at = row.alarm.acknowledgedAtMs, let reason = row.alarm.acknowledgement, self.state.withLock({ $0.alarms[row.alarm.id]?.isOpen ?? false }) {
                try? self.appendEvent(.acknowledged(id: row.alarm.id, atMs: at, reason: reason))
                self.apply(.acknowledged(id: row.alarm.id, atMs: at, reason: reason))
            }
        }
    }

    // MARK: The file

    private enum Event: Codable {
        case raised(AlarmRecord)
        case acknowledged(id: String, atMs: Int64, reason: String)
    }

    private func appendEvent(_ event: Event) throws {
        let line = try JSONEncoder().encode(event) + Data("\n".utf8)
        try SecretFile.append(line, to: self.path)
        self.state.withLock { $0.fileBytes += line.count }
    }

    private func apply(_ event: Event) {
        let open = self.state.withLock { state in
            Self.apply(event, to: &state)
            return state.alarms.values.filter(\.isOpen).count
        }
        self.openCount.store(open, ordering: .releasing)
    }

    private static func apply(_ event: Event, to state: inout State) {
        switch event {
        case .raised(let alarm):
            guard state.alarms[alarm.id] == nil else { return }
            state.alarms[alarm.id] = alarm
            state.order.append(alarm.id)
        case .acknowledged(let id, let atMs, let reason):
            guard var alarm = state.alarms[id], alarm.isOpen else { return }
            alarm.acknowledgedAtMs = atMs
            alarm.acknowledgement = reason
            state.alarms[id] = alarm
        }
    }

    /// Reads the file again when its size changed.
    private func reloadFile() throws {
        var status = stat()
        let size = lstat(self.path, &status) == 0 ? Int(status.st_size) : 0
        guard size != self.state.withLock({ $0.fileBytes }) || size == 0 else { return }
        guard let data = try SecretFile.read(self.path, maximumBytes: Self.maximumFileBytes) else { return }
        var fresh = State()
        for (index, line) in data.split(separator: UInt8(ascii: "\n")).enumerated() {
            guard let event = try? JSONDecoder().decode(Event.self, from: Data(line)) else {
                throw ConfigurationError("\(self.path) line \(index + 1) is not an alarm record: check the file; Integra does not run over alarms it can't read")
            }
            Self.apply(event, to: &fresh)
        }
        fresh.fileBytes = data.count
        let open = fresh.alarms.values.filter(\.isOpen).count
        self.state.withLock { $0 = fresh }
        self.openCount.store(open, ordering: .releasing)
    }

    private static func newID() -> String {
        let alphabet = Array("abcdefghijkmnpqrstuvwxyz23456789")
        var generator = SystemRandomNumberGenerator()
        return "A-" + String((0..<8).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }
}
