import Dispatch
import Foundation
public import IntegraLedger
import IntegraProtocol
public import Logging
import Synchronization

/// The operators' audit trail: daily files of accepted transfers (`transfers-YYYY-MM-DD.jsonl`)
/// and of rejected attempts (`rejections-YYYY-MM-DD.jsonl`), one JSON object per line, dates in
/// UTC. Records carry the reason and the peer address, never a password or a key.
///
/// Writing happens on its own serial queue, away from the event loops, a batch at a time. The
/// queue of records is bounded: beyond `maximumPending` records are dropped and the drop is
/// logged (the ledger itself, not this trail, is the record of money). Rejections are limited
/// per client address and in all (`RejectionBudget`), separately for those that name an account,
/// so a peer that sends garbage as fast as it can cannot fill the disk nor hide attempts on an
/// account; what was left out is counted in a `suppressed` record.
public final class AuditTrail: Sendable {
    public enum Kind: String, Sendable {
        case transfers
        case rejections
        /// Integrity alarms raised and acknowledged (`alarms-YYYY-MM-DD.jsonl`).
        case alarms
    }

    private struct Pending: Sendable {
        var lines: [(Kind, Int64, String)] = []
        var flushScheduled = false
        var dropped = 0
    }

    private let directory: String
    private let maximumPending: Int
    private let logger: Logger
    private let pending = Mutex(Pending())
    /// Rejections that name an account (failed and throttled logins, refused password changes)
    /// have a budget of their own: a flood of anonymous frame rejections from many addresses
    /// can't push evidence of guessing at an account out of the trail.
    private let accountRejections = Mutex(RejectionBudget())
    private let otherRejections = Mutex(RejectionBudget())
    private let queue = DispatchQueue(label: "integra.audit-trail")
    /// Open files, touched only on `queue`.
    private let files: FileSet

    public init(directory: String, maximumPending: Int = 10_000, logger: Logger) {
        precondition(maximumPending >= 1)
        self.directory = directory
        self.maximumPending = maximumPending
        self.logger = logger
        self.files = FileSet(directory: directory)
    }

    /// Records a transfer the ledger accepted.
    public func transferAccepted(transferID: String, from sender: String, to recipient: String, amount: String, position: Int64, peer: String, nowMs: Int64) {
        self.append(.transfers, nowMs: nowMs, fields: [
            ("transfer_id", .text(transferID)), ("from", .text(sender)), ("to", .text(recipient)),
            ("amount", .text(amount)), ("position", .number(position)), ("peer", .text(peer)),
        ])
    }

    /// Records a rejected attempt: its stable code, the reason, and who it came from.
    public func rejected(code: String, reason: String, peer: String, user: String? = nil, nowMs: Int64) {
        let address = RejectionBudget.host(of: peer)
        let (admitted, suppressed) = user == nil
            ? self.otherRejections.withLock { $0.admit(address: address, nowMs: nowMs) }
            : self.accountRejections.withLock { $0.admit(address: address, nowMs: nowMs) }
        if suppressed > 0 {
            let which = user == nil ? "rejections naming no account" : "rejections naming an account"
            self.append(.rejections, nowMs: nowMs, fields: [
                ("code", .text("suppressed")), ("count", .number(suppressed)),
                ("reason", .text("\(which) not recorded: more than the audit trail's rate per address or in all")),
            ])
        }
        guard admitted else { return }
        var fields: [(String, Value)] = [("code", .text(code)), ("reason", .text(reason)), ("peer", .text(peer))]
        if let user { fields.append(("user", .text(user))) }
        self.append(.rejections, nowMs: nowMs, fields: fields)
    }

    /// Records an integrity alarm raised.
    public func alarmRaised(_ alarm: AlarmRecord, nowMs: Int64) {
        self.append(.alarms, nowMs: nowMs, fields: [
            ("event", .text("raised")), ("alarm", .text(alarm.id)), ("kind", .text(alarm.kind)), ("detail", .text(alarm.detail)),
        ])
    }

    /// Records an operator's acknowledgement of an alarm, with their reason.
    public func alarmAcknowledged(_ alarm: AlarmRecord, by operatorName: String, nowMs: Int64) {
        self.append(.alarms, nowMs: nowMs, fields: [
            ("event", .text("acknowledged")), ("alarm", .text(alarm.id)), ("kind", .text(alarm.kind)),
            ("reason", .text(alarm.acknowledgement ?? "")), ("operator", .text(operatorName)),
        ])
    }

    /// Writes what is queued and syncs the files.
    public func flush() {
        self.queue.sync {
            self.write()
            self.files.sync()
        }
    }

    /// Flushes and closes the files.
    public func close() {
        self.queue.sync {
            self.write()
            self.files.closeAll()
        }
    }

    enum Value {
        case text(String)
        case number(Int64)
    }

    private func append(_ kind: Kind, nowMs: Int64, fields: [(String, Value)]) {
        var line = "{\"time\":\"\(Self.timestamp(nowMs))\""
        for (key, value) in fields {
            line += ",\"\(key)\":"
            switch value {
            case .text(let text): Self.appendJSONString(text, to: &line)
            case .number(let number): line += String(number)
            }
        }
        line += "}\n"
        let schedule = self.pending.withLock { pending -> Bool in
            guard pending.lines.count < self.maximumPending else {
                pending.dropped += 1
                return false
            }
            pending.lines.append((kind, nowMs, line))
            defer { pending.flushScheduled = true }
            return !pending.flushScheduled
        }
        if schedule { self.queue.async { self.write() } }
    }

    /// Runs on `queue`.
    private func write() {
        let (lines, dropped) = self.pending.withLock { pending in
            defer {
                pending.lines.removeAll(keepingCapacity: true)
                pending.flushScheduled = false
                pending.dropped = 0
            }
            return (pending.lines, pending.dropped)
        }
        if dropped > 0 {
            self.logger.warning("audit trail queue full: records dropped", metadata: ["dropped": "\(dropped)"])
        }
        var batches: [String: String] = [:]
        for (kind, nowMs, line) in lines {
            batches["\(kind.rawValue)-\(Self.day(nowMs)).jsonl", default: ""] += line
        }
        for (name, text) in batches.sorted(by: { $0.key < $1.key }) {
            do {
                try self.files.append(text, to: name)
            } catch {
                self.logger.error("cannot write the audit trail", metadata: ["file": "\(name)", "error": "\(error)"])
            }
        }
    }

    static func day(_ nowMs: Int64) -> String {
        String(Self.timestamp(nowMs).prefix(10))
    }

    static func timestamp(_ nowMs: Int64) -> String {
        var seconds = time_t(nowMs / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let millis = Int(nowMs % 1000)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(millis), 3))Z"
    }

    /// JSON string escaping (RFC 8259): quotes, backslashes and control characters.
    static func appendJSONString(_ text: String, to line: inout String) {
        line += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": line += "\\\""
            case "\\": line += "\\\\"
            case "\n": line += "\\n"
            case "\r": line += "\\r"
            case "\t": line += "\\t"
            case _ where scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || (0x2028...0x202E).contains(scalar.value)
                || (0x2066...0x2069).contains(scalar.value) || scalar.value == 0x200E || scalar.value == 0x200F:
                // Control, line-separator and bidirectional-override characters are escaped so a
                // name cannot disguise a log line.
                let hex = String(scalar.value, radix: 16)
                line += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: line.unicodeScalars.append(scalar)
            }
        }
        line += "\""
    }
}

/// The audit trail's open files, one per name; used only on the trail's queue.
private final class FileSet: @unchecked Sendable {
    private let directory: String
    private var descriptors: [String: Int32] = [:]

    init(directory: String) {
        self.directory = directory
    }

    func append(_ text: String, to name: String) throws {
        if self.descriptors[name] == nil {
            // A new day: the files of earlier days are complete.
            let day = name.suffix(16)
            for (open, descriptor) in self.descriptors where open.suffix(16) != day {
                fsync(descriptor)
                Glibc.close(descriptor)
                self.descriptors[open] = nil
            }
            try FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        let descriptor: Int32
        if let open = self.descriptors[name] {
            descriptor = open
        } else {
            descriptor = Glibc.open("\(self.directory)/\(name)", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
            guard descriptor >= 0 else { throw AuditTrailError(message: String(cString: strerror(errno))) }
            self.descriptors[name] = descriptor
        }
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            guard written > 0 else { throw AuditTrailError(message: String(cString: strerror(errno))) }
            offset += written
        }
    }

    func sync() {
        for descriptor in self.descriptors.values { fsync(descriptor) }
    }

    func closeAll() {
        for descriptor in self.descriptors.values {
            fsync(descriptor)
            Glibc.close(descriptor)
        }
        self.descriptors.removeAll()
    }
}

struct AuditTrailError: Error {
    let message: String
}

/// How many rejections the audit trail records: per client address and in all, each a token
/// bucket; the rest are counted and reported in one `suppressed` record when recording resumes.
struct RejectionBudget {
    static let perAddressPerMinute = 120
    static let perAddressBurst = 200
    static let inAllPerSecond = 50
    static let inAllBurst = 2_000
    static let maximumTrackedAddresses = 10_000

    private var addresses = KeyedRateLimiter<String>(
        ratePerMinute: Self.perAddressPerMinute, burst: Self.perAddressBurst, maximumKeys: Self.maximumTrackedAddresses)
    private var inAll: RequestRateLimiter?
    private var suppressed: Int64 = 0

    /// Whether this rejection is recorded, and how many were left out before it (to report now).
    mutating func admit(address: String, nowMs: Int64) -> (admitted: Bool, suppressedBefore: Int64) {
        var inAll = self.inAll ?? RequestRateLimiter(ratePerSecond: Self.inAllPerSecond, burst: Self.inAllBurst, nowMs: nowMs)
        defer { self.inAll = inAll }
        guard self.addresses.wouldAdmit(address, nowMs: nowMs) && inAll.admit(nowMs: nowMs) else {
            self.suppressed += 1
            return (false, 0)
        }
        self.addresses.admit(address, nowMs: nowMs)
        defer { self.suppressed = 0 }
        return (true, self.suppressed)
    }

    /// The host of "HOST:PORT" or "[HOST]:PORT"; the text itself when it has no port.
    static func host(of peer: String) -> String {
        if peer.hasPrefix("["), let end = peer.firstIndex(of: "]") { return String(peer[peer.index(after: peer.startIndex)..<end]) }
        guard let colon = peer.lastIndex(of: ":"), peer.firstIndex(of: ":") == colon else { return peer }
        return String(peer[..<colon])
    }
}
