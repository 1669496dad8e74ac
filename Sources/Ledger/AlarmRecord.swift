/// An integrity alarm as the stores keep it: raised when a check finds a row that is not what
/// Integra wrote, open until an operator acknowledges it with a reason.
public struct AlarmRecord: Hashable, Sendable, Codable {
    /// A short random identifier an operator types to acknowledge the alarm.
    public let id: String
    /// The finding's kind (`IntegrityViolation.Kind` raw value, e.g. `balance-changed`).
    public let kind: String
    /// What was found and where.
    public let detail: String
    public let raisedAtMs: Int64
    public var acknowledgedAtMs: Int64?
    /// The operator's reason, given when acknowledging.
    public var acknowledgement: String?

    public init(id: String, kind: String, detail: String, raisedAtMs: Int64, acknowledgedAtMs: Int64? = nil, acknowledgement: String? = nil) {
        self.id = id
        self.kind = kind
        self.detail = detail
        self.raisedAtMs = raisedAtMs
        self.acknowledgedAtMs = acknowledgedAtMs
        self.acknowledgement = acknowledgement
    }

    /// Whether an operator still has to deal with it.
    public var isOpen: Bool { self.acknowledgedAtMs == nil }
}

/// An alarm row read back from a store, with its seal.
public struct SealedAlarm: Sendable {
    public let alarm: AlarmRecord
    public let mac: [UInt8]?

    public init(alarm: AlarmRecord, mac: [UInt8]?) {
        self.alarm = alarm
        self.mac = mac
    }
}
