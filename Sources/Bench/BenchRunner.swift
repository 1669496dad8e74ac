import Foundation
import IntegraFiles
import IntegraProtocol
import NIOCore
import Synchronization

/// Runs one bench: starts the servers it needs (or uses an existing one), creates and funds the
/// customers, runs the workload and its same-run baseline, and builds the report.
public struct BenchRunner: Sendable {
    public let options: BenchOptions
    let progress: Progress

    public init(options: BenchOptions, quiet: Bool) {
        self.options = options
        self.progress = Progress(quiet: quiet)
    }

    public func run() async throws -> BenchReport {
        try self.options.validate()
        var template = Array("/tmp/integra-bench.XXXXXX".utf8CString)
        guard let created = mkdtemp(&template) else { throw BenchFailure("cannot create a temporary directory") }
        let work = String(cString: created)
        ChildRegistry.shared.addDirectory(work)
        let servers = ServerSet()
        do {
            let report = try await self.run(work: work, servers: servers)
            await servers.stopAll()
            ChildRegistry.shared.removeDirectory(work)
            return report
        } catch {
            await servers.stopAll()
            ChildRegistry.shared.removeDirectory(work)
            throw error
        }
    }

    private func run(work: String, servers: ServerSet) async throws -> BenchReport {
        let cores = System.coreCount
        let target = try await self.prepareTarget(work: work, servers: servers)
        var report: BenchReport
        switch self.options.workload {
        case .sessions:
            var echo: TransferTarget? = nil
            if self.options.baseline {
                let server = try await LocalServer.start(binary: try self.serverBinary(), dataDirectory: "\(work)/echo", database: nil, echo: true, bcryptCost: self.options.bcryptCost,
                    metrics: self.options.serverMetrics)
                await servers.add(server)
                echo = TransferTarget(configuration: server.configuration, address: server.address, credentials: target.credentials, timeoutMs: self.options.timeoutMs, serverPID: server.process.pid)
            }
            report = try await SessionsWorkload(options: self.options, progress: self.progress, cores: cores).run(target: target, echo: echo)
        case .seed:
            report = try await self.seed(target: target, cores: cores)
        case .storm:
            report = try await StormWorkload(options: self.options, progress: self.progress, cores: cores).run(target: target)
        }
        if let path = self.options.plotPath {
            report.plotPath = path
            let title = "integra-bench \(report.workload.rawValue) on \(report.store), \(cores) cores, \(report.durationSeconds) s per run"
            do {
                try SVGPlot.render(report, title: title).write(toFile: path, atomically: true, encoding: .utf8)
            } catch {
                throw BenchFailure("cannot write the plot to \(path): \(error)")
            }
        }
        return report
    }

    /// The server under load: an existing one, or one started here with funded customers.
    private func prepareTarget(work: String, servers: ServerSet) async throws -> TransferTarget {
        if let address = self.options.server, let configPath = self.options.configPath, let credentialsPath = self.options.credentialsPath {
            let configuration = try ClientConfiguration.load(from: configPath)
            guard let text = try? String(contentsOfFile: credentialsPath, encoding: .utf8) else {
                throw BenchFailure("cannot read the credentials file \(credentialsPath)")
            }
            return TransferTarget(configuration: configuration, address: address, credentials: try Credential.parse(text), timeoutMs: self.options.timeoutMs)
        }
        let server = try await LocalServer.start(binary: try self.serverBinary(), dataDirectory: "\(work)/ledger", database: self.options.database, echo: false, bcryptCost: self.options.bcryptCost,
            metrics: self.options.serverMetrics)
        await servers.add(server)
        let count = self.options.userCount
        self.progress.log("creating and funding \(count) customers (bcrypt cost \(self.options.bcryptCost))")
        let credentials = try await Credential.provision(
            count: count, on: server, bcryptCost: self.options.bcryptCost, parallelism: max(1, System.coreCount), workDirectory: work)
        return TransferTarget(configuration: server.configuration, address: server.address, credentials: credentials, timeoutMs: self.options.timeoutMs, serverPID: server.process.pid)
    }

    private func seed(target: TransferTarget, cores: Int) async throws -> BenchReport {
        var baseline: BenchReport.Baseline? = nil
        if self.options.baseline {
            let limit = BcryptLimit.measure(cost: self.options.bcryptCost, cores: cores)
            self.progress.log(String(format: "bcrypt verify at cost %d: %.1f ms of CPU; limit %.2f logins/s on %d cores", self.options.bcryptCost, limit.verifyMs, limit.loginsPerSecond, cores))
            baseline = BenchReport.Baseline(kind: "bcrypt_limit_per_s", value: limit.loginsPerSecond, bcryptVerifyMs: limit.verifyMs)
        }
        let timeline = Timeline(capacitySeconds: Int(self.options.durationSeconds.rounded(.up)) + 1)
        let run = SeedRun(target: target, workers: self.options.sessions, warmupSeconds: self.options.warmupSeconds, durationSeconds: self.options.durationSeconds, progress: self.progress, timeline: timeline)
        let (recorder, cpu) = try await self.progress.reporting("seed workers=\(self.options.sessions)", unit: "operations") { await run.run() }
        var summary = recorder.summary(elapsedSeconds: self.options.durationSeconds)
        cpu.apply(to: &summary)
        var report = BenchReport(
            workload: .seed, store: self.storeName, mode: "closed", sessions: self.options.sessions, durationSeconds: self.options.durationSeconds,
            targetRatePerSecond: nil, result: summary, baseline: baseline, cores: cores)
        report.timeline = timeline.points()
        return report
    }

    var storeName: String { self.options.server == nil ? self.options.store.rawValue : "external" }

    /// `--server-binary`, or `integra-server` next to this executable.
    private func serverBinary() throws -> String {
        if let path = self.options.serverBinary { return path }
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let path = URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent("integra-server").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw BenchFailure("no integra-server next to the bench at \(path): build it (swift build --product integra-server) or pass --server-binary")
        }
        return path
    }
}

/// The servers started for this run, stopped together at the end.
actor ServerSet {
    private var servers: [LocalServer] = []

    func add(_ server: LocalServer) { self.servers.append(server) }

    func stopAll() async {
        for server in self.servers { await server.stop() }
        self.servers = []
    }
}
