/// The workloads the load generator knows.
public enum Workload: String, CaseIterable, Sendable, Codable {
    /// A new connection per operation: connect, log in, one transfer, close.
    case seed
    /// Sessions that log in once and then transfer continuously.
    case sessions
    /// `sessions` at a fixed rate, first calm, then beside a login storm.
    case storm
}

/// What each session request of the `sessions` and `storm` workloads is.
public enum SessionRequest: String, CaseIterable, Sendable, Codable {
    /// A transfer of 0.01 to another customer: a ledger entry, a group commit, a signed receipt.
    case transfer
    /// A balance request: a read of the customer's account, checked before it is shown.
    case balance
}

/// The store of the server the bench starts.
public enum StoreKind: String, CaseIterable, Sendable, Codable {
    case sqlite
    case mariadb
}

/// How fast sessions send.
public enum RateSetting: Hashable, Sendable {
    /// Each session sends its next transfer as soon as the previous one is answered.
    case closedLoop
    /// Open loop at this many transfers per second over all sessions.
    case perSecond(Double)
    /// Open loop at half the closed-loop peak measured first in the same run.
    case halfPeak

    /// Parses `--rate`: a number of transfers per second, or `half-peak`.
    public static func parse(_ text: String) throws(BenchUsageError) -> RateSetting {
        if text == "half-peak" { return .halfPeak }
        guard let value = Double(text), value.isFinite, value > 0, value <= BenchOptions.maximumRatePerSecond else {
            throw BenchUsageError("--rate must be a number of transfers per second from 1 to \(Int(BenchOptions.maximumRatePerSecond)), or half-peak")
        }
        return .perSecond(value)
    }
}

/// A command line the bench cannot run, with the reason.
public struct BenchUsageError: Error, Hashable, Sendable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { self.message }
}

/// Everything a bench run needs to know, validated before anything starts.
public struct BenchOptions: Hashable, Sendable {
    public var workload: Workload = .sessions
    /// Concurrent sessions (`seed`: concurrent connect-login-transfer loops).
    public var sessions = 64
    public var durationSeconds = 10.0
    /// Load before each measured run whose results are discarded.
    public var warmupSeconds = 1.0
    public var rate: RateSetting = .closedLoop
    /// What each session request is.
    public var request: SessionRequest = .transfer
    /// Session counts to measure one after another (throughput against concurrency).
    public var sweep: [Int] = []
    public var store: StoreKind = .sqlite
    /// MariaDB URL of an empty database for the server the bench starts.
    public var database: String?
    /// "HOST:PORT" of an existing server instead of starting one.
    public var server: String?
    /// The existing server's client configuration (`client.json`).
    public var configPath: String?
    /// For an existing server: a file of `NAME PASSWORD` lines, funded customers.
    public var credentialsPath: String?
    /// Customers the bench creates on its own server (default: the largest session count, at least 2).
    public var users: Int?
    /// Concurrent login loops of the `storm` workload.
    public var stormConnections = 16
    /// bcrypt cost of the customers the bench creates.
    public var bcryptCost: UInt8 = 12
    /// Whether the servers the bench starts record metrics and serve them on an admin
    /// listener (as in production), or run with `--admin-listen off`.
    public var serverMetrics = true
    /// Measure the same-run baseline (echo server or bcrypt limit).
    public var baseline = true
    /// Write an SVG plot here.
    public var plotPath: String?
    /// The `integra-server` binary (default: the one next to the bench binary).
    public var serverBinary: String?
    public var timeoutMs: Int64 = 30_000

    public static let maximumSessions = 4096
    public static let maximumSweepPoints = 16
    public static let maximumDurationSeconds = 3600.0
    public static let maximumRatePerSecond = 1_000_000.0
    public static let maximumUsers = 10_000
    public static let maximumStormConnections = 1024

    public init() {}

    /// The session counts measured, in order: the sweep, or just `sessions`.
    public var sessionCounts: [Int] { self.sweep.isEmpty ? [self.sessions] : self.sweep }

    /// Customers to create: `users`, or enough for every session to log in as its own customer.
    public var userCount: Int { self.users ?? max(2, self.sessionCounts.max() ?? 2) }

    /// Parses `--sweep 1,4,16,64`.
    public static func parseSweep(_ text: String) throws(BenchUsageError) -> [Int] {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false)
        var counts: [Int] = []
        for part in parts {
            guard let count = Int(part.trimmingCharacters(in: .whitespaces)), (1...Self.maximumSessions).contains(count) else {
                throw BenchUsageError("--sweep must be a comma-separated list of session counts from 1 to \(Self.maximumSessions), e.g. 1,4,16,64")
            }
            counts.append(count)
        }
        guard !counts.isEmpty, counts.count <= Self.maximumSweepPoints else {
            throw BenchUsageError("--sweep takes 1 to \(Self.maximumSweepPoints) session counts")
        }
        return counts
    }

    /// Checks the combination of options; the first problem found is thrown.
    public func validate() throws(BenchUsageError) {
        guard (1...Self.maximumSessions).contains(self.sessions) else {
            throw BenchUsageError("--sessions must be 1 to \(Self.maximumSessions)")
        }
        guard self.durationSeconds >= 0.5 && self.durationSeconds <= Self.maximumDurationSeconds else {
            throw BenchUsageError("--duration must be 0.5 to \(Int(Self.maximumDurationSeconds)) seconds")
        }
        guard self.warmupSeconds >= 0 && self.warmupSeconds <= 60 else { throw BenchUsageError("--warmup must be 0 to 60 seconds") }
        guard self.timeoutMs >= 100 && self.timeoutMs <= 600_000 else { throw BenchUsageError("--timeout-ms must be 100 to 600000") }
        guard self.sweep.count <= Self.maximumSweepPoints, self.sweep.allSatisfy({ (1...Self.maximumSessions).contains($0) }) else {
            throw BenchUsageError("--sweep takes 1 to \(Self.maximumSweepPoints) session counts from 1 to \(Self.maximumSessions)")
        }
        if !self.sweep.isEmpty && self.workload != .sessions { throw BenchUsageError("--sweep works with --workload sessions only") }
        if !self.sweep.isEmpty && self.rate != .closedLoop { throw BenchUsageError("--sweep measures the closed loop; leave out --rate") }
        if self.workload == .seed && self.rate != .closedLoop { throw BenchUsageError("--rate works with the sessions and storm workloads") }
        if self.workload == .seed && self.request != .transfer { throw BenchUsageError("--request works with the sessions and storm workloads") }
        guard (1...Self.maximumStormConnections).contains(self.stormConnections) else {
            throw BenchUsageError("--storm-connections must be 1 to \(Self.maximumStormConnections)")
        }
        guard (10...31).contains(self.bcryptCost) else { throw BenchUsageError("--bcrypt-cost must be 10 to 31") }
        if let users = self.users, !(2...Self.maximumUsers).contains(users) {
            throw BenchUsageError("--users must be 2 to \(Self.maximumUsers)")
        }
        if self.server != nil {
            guard self.configPath != nil, self.credentialsPath != nil else {
                throw BenchUsageError("--server needs --config (the server's client.json) and --credentials (NAME PASSWORD lines)")
            }
            guard self.database == nil else { throw BenchUsageError("--database is for the server the bench starts; leave it out with --server") }
        } else {
            guard self.configPath == nil, self.credentialsPath == nil else {
                throw BenchUsageError("--config and --credentials describe an existing server: give --server too")
            }
            switch self.store {
            case .sqlite:
                guard self.database == nil else { throw BenchUsageError("--database is a MariaDB URL: use it with --store mariadb") }
            case .mariadb:
                guard let database = self.database, database.hasPrefix("mariadb://") || database.hasPrefix("mysql://") else {
                    throw BenchUsageError("--store mariadb needs --database mariadb://USER:PASSWORD@HOST:PORT/DATABASE (an empty database)")
                }
            }
        }
    }
}
