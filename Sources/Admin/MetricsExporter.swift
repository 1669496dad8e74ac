public import IntegraServer
public import Prometheus

/// The Prometheus registry behind `GET /metrics`: the server's own metrics (`ServerMetrics`,
/// recorded as things happen) and gauges of its state, set from `OperationalState` at each scrape.
public final class MetricsExporter: Sendable {
    public let registry: PrometheusCollectorRegistry
    /// The factory to hand to swift-metrics users (`ServerMetrics`, `MetricsSystem.bootstrap`).
    public let factory: PrometheusMetricsFactory
    public let serverMetrics: ServerMetrics

    private let connections: Gauge
    private let sessions: Gauge
    private let bcryptQueueDepth: Gauge
    private let bcryptQueueLimit: Gauge
    private let headPosition: Gauge
    private let verifiedPosition: Gauge
    private let checkpointPosition: Gauge
    private let checkpointAge: Gauge
    private let verifyRunning: Gauge
    private let verifyProgress: Gauge
    private let verifyLastEntries: Gauge
    private let verifyLastViolations: Gauge
    private let verifyLastDuration: Gauge
    private let verifyLastTimestamp: Gauge
    private let alarmsOpen: Gauge
    private let storeUp: Gauge
    private let ready: Gauge

    /// Request latencies: 100 µs to 10 s.
    static let requestBuckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .microseconds(2_500), .milliseconds(5),
        .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .microseconds(2_500_000), .seconds(5), .seconds(10),
    ]

    public init() {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets[ServerMetrics.requestDurationName] = Self.requestBuckets
        factory.durationHistogramBuckets[ServerMetrics.groupCommitDurationName] = Self.requestBuckets
        factory.durationHistogramBuckets[ServerMetrics.bcryptWaitName] = Self.requestBuckets
        factory.valueHistogramBuckets[ServerMetrics.groupCommitBatchSizeName] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096]
        self.registry = registry
        self.factory = factory
        self.serverMetrics = ServerMetrics(factory: factory)
        func gauge(_ name: String, unit: String = "", _ help: String) -> Gauge {
            registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "integra", metricName: name, unitName: unit, helpText: help))
        }
        self.connections = gauge("connections_open", "Customer connections open now.")
        self.sessions = gauge("sessions_open", "Connections with a logged-in session now.")
        self.bcryptQueueDepth = gauge("bcrypt_queue", unit: "depth", "Password jobs queued or running on the bcrypt pool.")
        self.bcryptQueueLimit = gauge("bcrypt_queue", unit: "limit", "Password jobs allowed to wait before logins get server_busy.")
        self.headPosition = gauge("ledger_head", unit: "position", "Position of the last ledger entry, as the store reports it.")
        self.verifiedPosition = gauge("ledger_verified", unit: "position", "Position of the last entry verified entry by entry.")
        self.checkpointPosition = gauge("checkpoint", unit: "position", "Position the last signed checkpoint covers.")
        self.checkpointAge = gauge("checkpoint_age", unit: "seconds", "Seconds since the last signed checkpoint (one is signed only when the head moved).")
        self.verifyRunning = gauge("verify_running", "1 while the background verifier checks the whole ledger.")
        self.verifyProgress = gauge("verify_progress", unit: "entries", "Entries the running full verification has checked.")
        self.verifyLastEntries = gauge("verify_last", unit: "entries", "Entries the last full verification checked.")
        self.verifyLastViolations = gauge("verify_last_violations", "Violations the last full verification found.")
        self.verifyLastDuration = gauge("verify_last_duration", unit: "seconds", "How long the last full verification took.")
        self.verifyLastTimestamp = gauge("verify_last_timestamp", unit: "seconds", "When the last full verification finished (Unix time).")
        self.alarmsOpen = gauge("integrity_alarms_open", "Integrity alarms open: no money moves while this is above 0.")
        self.storeUp = gauge("store_up", "1 when the store answered the last scrape.")
        self.ready = gauge("ready", "1 when /health/ready answers 200.")
    }

    /// Sets the state gauges from `state`, then renders every metric in the Prometheus text format.
    public func scrape(_ state: OperationalState, nowMs: Int64) -> [UInt8] {
        self.connections.set(to: Double(state.openConnections))
        self.sessions.set(to: Double(state.sessions))
        self.bcryptQueueDepth.set(to: Double(state.bcryptQueueDepth))
        self.bcryptQueueLimit.set(to: Double(state.bcryptQueueLimit))
        if let head = state.headPosition { self.headPosition.set(to: Double(head)) }
        if let verified = state.verifiedPosition { self.verifiedPosition.set(to: Double(verified)) }
        if let checkpoint = state.lastCheckpoint {
            self.checkpointPosition.set(to: Double(checkpoint.position))
            self.checkpointAge.set(to: max(0, Double(nowMs - checkpoint.createdAtMs) / 1_000))
        }
        self.verifyRunning.set(to: state.fullVerificationProgress == nil ? 0 : 1)
        self.verifyProgress.set(to: Double(state.fullVerificationProgress ?? 0))
        if let last = state.lastFullVerification {
            self.verifyLastEntries.set(to: Double(last.entriesChecked))
            self.verifyLastViolations.set(to: Double(last.violations))
            self.verifyLastDuration.set(to: last.seconds)
            self.verifyLastTimestamp.set(to: Double(last.finishedAtMs) / 1_000)
        }
        self.alarmsOpen.set(to: Double(state.openAlarms.count))
        self.storeUp.set(to: state.headPosition == nil ? 0 : 1)
        self.ready.set(to: Readiness(state) == .ready ? 1 : 0)
        return self.registry.emitToBuffer()
    }
}
