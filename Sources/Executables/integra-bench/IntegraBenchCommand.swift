import ArgumentParser
import Dispatch
import Foundation
import IntegraBench

@main
struct IntegraBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "integra-bench",
        abstract: "Load generator for Integra, with same-run baselines.",
        discussion: """
            Starts its own integra-server (the binary next to this one) on a temporary data directory and a free \
            loopback port, creates and funds customers with the admin commands, runs the workload, measures the \
            baseline in the same run (the echo server for sessions, the bcrypt limit for seed, the calm run for \
            storm), stops everything and removes the directory, also on Ctrl-C. With --json the last line of \
            standard output is one JSON object; progress goes to standard error.
            """)

    @Option(help: "seed (connect, log in, one transfer per operation), sessions (log in once, transfer continuously) or storm (sessions beside a login storm).")
    var workload = "sessions"

    @Option(help: "Concurrent sessions (seed: concurrent operation loops).")
    var sessions = 64

    @Option(help: "Measured seconds per run.")
    var duration = 10.0

    @Option(help: "Seconds of load before each measured run, not counted.")
    var warmup = 1.0

    @Option(help: "Open loop at this many transfers per second over all sessions, or half-peak (half the closed-loop peak measured first). Default: closed loop (storm: half-peak).")
    var rate: String?

    @Option(help: "What each session request is: transfer (a ledger entry and a signed receipt) or balance (a checked read).")
    var request = "transfer"

    @Option(help: "Session counts to measure one after another, e.g. 1,4,16,64 (sessions workload, closed loop).")
    var sweep: String?

    @Option(help: "Store of the server the bench starts: sqlite or mariadb.")
    var store = "sqlite"

    @Option(help: "With --store mariadb: URL of an empty MariaDB database, mariadb://USER:PASSWORD@HOST:PORT/DATABASE.")
    var database: String?

    @Option(help: "Use an existing server at HOST:PORT instead of starting one (needs --config and --credentials).")
    var server: String?

    @Option(help: "The existing server's client configuration (client.json).")
    var config: String?

    @Option(help: "The existing server's funded customers: a file of NAME PASSWORD lines.")
    var credentials: String?

    @Option(help: "Customers to create on the bench's own server (default: one per session).")
    var users: Int?

    @Option(help: "Concurrent login loops of the storm workload.")
    var stormConnections = 16

    @Option(help: "bcrypt cost of the customers the bench creates (10 to 31); also the cost of the seed baseline's measurement.")
    var bcryptCost: UInt8 = 12

    @Flag(help: "Start the servers with --admin-listen off: no metrics recorded (to measure what metrics cost).")
    var noServerMetrics = false

    @Flag(help: "Skip the same-run baseline.")
    var noBaseline = false

    @Flag(help: "Print the result as one JSON object on the last line of standard output.")
    var json = false

    @Option(help: "Write an SVG plot: throughput against sessions and latency over time.")
    var plot: String?

    @Option(help: "The integra-server binary to start (default: the one next to integra-bench).")
    var serverBinary: String?

    @Option(help: "How long to wait for each answer, in milliseconds.")
    var timeoutMs: Int64 = 30_000

    @Flag(help: "No progress lines on standard error.")
    var quiet = false

    func options() throws(BenchUsageError) -> BenchOptions {
        var options = BenchOptions()
        guard let workload = Workload(rawValue: self.workload) else { throw BenchUsageError("--workload must be seed, sessions or storm") }
        guard let store = StoreKind(rawValue: self.store) else { throw BenchUsageError("--store must be sqlite or mariadb") }
        options.workload = workload
        options.store = store
        options.sessions = self.sessions
        options.durationSeconds = self.duration
        options.warmupSeconds = self.warmup
        options.rate = try self.rate.map(RateSetting.parse) ?? .closedLoop
        guard let request = SessionRequest(rawValue: self.request) else { throw BenchUsageError("--request must be transfer or balance") }
        options.request = request
        options.sweep = try self.sweep.map(BenchOptions.parseSweep) ?? []
        options.database = self.database
        options.server = self.server
        options.configPath = self.config
        options.credentialsPath = self.credentials
        options.users = self.users
        options.stormConnections = self.stormConnections
        options.bcryptCost = self.bcryptCost
        options.serverMetrics = !self.noServerMetrics
        options.baseline = !self.noBaseline
        options.plotPath = self.plot
        options.serverBinary = self.serverBinary
        options.timeoutMs = self.timeoutMs
        try options.validate()
        return options
    }

    func validate() throws {
        do {
            _ = try self.options()
        } catch {
            throw ValidationError(error.message)
        }
    }

    func run() async throws {
        let options = try self.options()
        let signals = CleanupOnSignal()
        defer { signals.cancel() }
        let report: BenchReport
        do {
            report = try await BenchRunner(options: options, quiet: self.quiet).run()
        } catch {
            FileHandle.standardError.write(Data("integra-bench: \(error)\n".utf8))
            throw ExitCode(1)
        }
        if self.json {
            print(report.jsonLine())
        } else {
            print(report.humanSummary())
        }
    }
}

/// On SIGINT or SIGTERM: stop the servers the bench started, remove its directory, exit 130.
final class CleanupOnSignal {
    private let sources: [any DispatchSourceSignal]

    init() {
        self.sources = [SIGINT, SIGTERM].map { signalNumber in
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                FileHandle.standardError.write(Data("integra-bench: interrupted; stopping the servers it started\n".utf8))
                ChildRegistry.shared.terminateAll()
                exit(130)
            }
            source.resume()
            return source
        }
    }

    func cancel() {
        for source in self.sources { source.cancel() }
    }
}
