import Foundation

/// The outcome of a bench run, printed as one JSON object (`--json`, last stdout line).
///
/// `baselineRatio` is result ÷ baseline: throughput ÷ echo throughput for `sessions`, throughput ÷
/// bcrypt limit for `seed`, and p99 under the storm ÷ calm p99 for `storm`.
public struct BenchReport: Sendable, Encodable {
    public var workload: Workload
    /// What each session request was (`sessions` and `storm`).
    public var request: SessionRequest = .transfer
    public var store: String
    /// "closed" or "open".
    public var mode: String
    public var sessions: Int
    public var durationSeconds: Double
    /// The open-loop target rate, if any.
    public var targetRatePerSecond: Double?
    /// The closed-loop peak measured first when the rate is half of it.
    public var peakThroughputPerSecond: Double?
    public var result: LatencySummary
    public var baseline: Baseline?
    public var sweep: [SweepPoint] = []
    public var timeline: [TimelinePoint] = []
    public var storm: StormDetail?
    public var cores: Int
    public var plotPath: String?

    /// What the result is compared with.
    public struct Baseline: Sendable, Encodable, Hashable {
        /// "echo_throughput_per_s", "bcrypt_limit_per_s" or "calm_p99_ms".
        public var kind: String
        public var value: Double
        /// The baseline run itself, when it was one (echo server, calm run).
        public var run: LatencySummary?
        /// For the bcrypt limit: the measured verify time.
        public var bcryptVerifyMs: Double?

        public init(kind: String, value: Double, run: LatencySummary? = nil, bcryptVerifyMs: Double? = nil) {
            self.kind = kind
            self.value = value
            self.run = run
            self.bcryptVerifyMs = bcryptVerifyMs
        }
    }

    /// One concurrency level of a sweep.
    public struct SweepPoint: Sendable, Encodable, Hashable {
        public var sessions: Int
        public var throughputPerSecond: Double
        public var p99Ms: Double
        public var echoThroughputPerSecond: Double?

        public init(sessions: Int, throughputPerSecond: Double, p99Ms: Double, echoThroughputPerSecond: Double?) {
            self.sessions = sessions
            self.throughputPerSecond = throughputPerSecond
            self.p99Ms = p99Ms
            self.echoThroughputPerSecond = echoThroughputPerSecond
        }

        enum CodingKeys: String, CodingKey {
            case sessions
            case throughputPerSecond = "throughput_per_s"
            case p99Ms = "p99_ms"
            case echoThroughputPerSecond = "echo_throughput_per_s"
        }
    }

    /// The login storm beside the transfers.
    public struct StormDetail: Sendable, Encodable, Hashable {
        public var connections: Int
        public var loginsPerSecond: Double
        public var loginErrors: [String: Int]

        public init(connections: Int, loginsPerSecond: Double, loginErrors: [String: Int]) {
            self.connections = connections
            self.loginsPerSecond = loginsPerSecond
            self.loginErrors = loginErrors
        }

        enum CodingKeys: String, CodingKey {
            case connections
            case loginsPerSecond = "logins_per_s"
            case loginErrors = "login_errors"
        }
    }

    public init(workload: Workload, store: String, mode: String, sessions: Int, durationSeconds: Double, targetRatePerSecond: Double?, result: LatencySummary, baseline: Baseline?, cores: Int) {
        self.workload = workload
        self.store = store
        self.mode = mode
        self.sessions = sessions
        self.durationSeconds = durationSeconds
        self.targetRatePerSecond = targetRatePerSecond
        self.result = result
        self.baseline = baseline
        self.cores = cores
    }

    /// Result ÷ baseline, nil without a baseline.
    public var baselineRatio: Double? {
        guard let baseline, baseline.value > 0 else { return nil }
        switch self.workload {
        case .sessions, .seed: return self.result.throughputPerSecond / baseline.value
        case .storm: return self.result.p99Ms / baseline.value
        }
    }

    enum CodingKeys: String, CodingKey {
        case workload, request, store, mode, sessions, baseline, sweep, timeline, storm, cores
        case durationSeconds = "duration_s"
        case targetRatePerSecond = "target_rate_per_s"
        case peakThroughputPerSecond = "peak_throughput_per_s"
        case errorCount = "error_count"
        case baselineKind = "baseline_kind"
        case baselineValue = "baseline_value"
        case baselineRatio = "baseline_ratio"
        case plotPath = "plot"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.workload, forKey: .workload)
        if self.workload != .seed { try container.encode(self.request, forKey: .request) }
        try container.encode(self.store, forKey: .store)
        try container.encode(self.mode, forKey: .mode)
        try container.encode(self.sessions, forKey: .sessions)
        try container.encode(Self.rounded(self.durationSeconds), forKey: .durationSeconds)
        try container.encode(self.targetRatePerSecond.map(Self.rounded), forKey: .targetRatePerSecond)
        try container.encodeIfPresent(self.peakThroughputPerSecond.map(Self.rounded), forKey: .peakThroughputPerSecond)
        // The result's statistics sit at the top level of the same object.
        try self.result.encode(to: encoder)
        try container.encode(self.result.errors.values.reduce(0, +), forKey: .errorCount)
        try container.encode(self.baseline?.kind, forKey: .baselineKind)
        try container.encode(self.baseline.map { Self.rounded($0.value) }, forKey: .baselineValue)
        try container.encode(self.baselineRatio.map(Self.rounded), forKey: .baselineRatio)
        try container.encodeIfPresent(self.baseline, forKey: .baseline)
        if !self.sweep.isEmpty { try container.encode(self.sweep, forKey: .sweep) }
        try container.encode(self.timeline, forKey: .timeline)
        try container.encodeIfPresent(self.storm, forKey: .storm)
        try container.encode(self.cores, forKey: .cores)
        try container.encodeIfPresent(self.plotPath, forKey: .plotPath)
    }

    /// The report as one line of JSON with sorted keys.
    public func jsonLine() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(self), let text = String(data: data, encoding: .utf8) else {
            preconditionFailure("a bench report always encodes")
        }
        return text
    }

    /// Three decimals are plenty for milliseconds and rates, and keep the line readable.
    static func rounded(_ value: Double) -> Double {
        (value * 1000).rounded() / 1000
    }
}

extension LatencySummary: Encodable {
    enum CodingKeys: String, CodingKey {
        case completed, errors
        case throughputPerSecond = "throughput_per_s"
        case p50Ms = "p50_ms", p90Ms = "p90_ms", p99Ms = "p99_ms", p999Ms = "p999_ms", maxMs = "max_ms", meanMs = "mean_ms"
        case serverCPUMicrosecondsPerOperation = "server_cpu_us_per_op"
        case benchCPUMicrosecondsPerOperation = "bench_cpu_us_per_op"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.completed, forKey: .completed)
        try container.encodeIfPresent(self.serverCPUMicrosecondsPerOperation.map(BenchReport.rounded), forKey: .serverCPUMicrosecondsPerOperation)
        try container.encodeIfPresent(self.benchCPUMicrosecondsPerOperation.map(BenchReport.rounded), forKey: .benchCPUMicrosecondsPerOperation)
        try container.encode(self.errors, forKey: .errors)
        try container.encode(BenchReport.rounded(self.throughputPerSecond), forKey: .throughputPerSecond)
        try container.encode(BenchReport.rounded(self.p50Ms), forKey: .p50Ms)
        try container.encode(BenchReport.rounded(self.p90Ms), forKey: .p90Ms)
        try container.encode(BenchReport.rounded(self.p99Ms), forKey: .p99Ms)
        try container.encode(BenchReport.rounded(self.p999Ms), forKey: .p999Ms)
        try container.encode(BenchReport.rounded(self.maxMs), forKey: .maxMs)
        try container.encode(BenchReport.rounded(self.meanMs), forKey: .meanMs)
    }
}

extension BenchReport.Baseline {
    enum CodingKeys: String, CodingKey {
        case kind, value, run
        case bcryptVerifyMs = "bcrypt_verify_ms"
    }
}

extension BenchReport {
    /// A few lines for a person, printed without `--json`.
    public func humanSummary() -> String {
        var lines = [
            "workload \(self.workload.rawValue) on \(self.store), \(self.sessions) sessions, \(self.mode) loop\(self.targetRatePerSecond.map { String(format: " at %.0f/s", $0) } ?? ""), \(self.durationSeconds) s",
            String(format: "throughput %.1f/s  p50 %.3f ms  p99 %.3f ms  p99.9 %.3f ms  max %.3f ms  errors %d",
                   self.result.throughputPerSecond, self.result.p50Ms, self.result.p99Ms, self.result.p999Ms, self.result.maxMs, self.result.errors.values.reduce(0, +)),
        ]
        if let baseline = self.baseline, let ratio = self.baselineRatio {
            lines.append(String(format: "baseline %@ = %.3f; ratio %.3f", baseline.kind, baseline.value, ratio))
        }
        for point in self.sweep {
            lines.append(String(format: "  sessions %4d: %.1f/s (echo %@), p99 %.3f ms", point.sessions, point.throughputPerSecond,
                                point.echoThroughputPerSecond.map { String(format: "%.1f/s", $0) } ?? "-", point.p99Ms))
        }
        if !self.result.errors.isEmpty {
            lines.append("errors: " + self.result.errors.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
        }
        return lines.joined(separator: "\n")
    }
}
