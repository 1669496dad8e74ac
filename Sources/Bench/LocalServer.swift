import Foundation
import IntegraFiles
public import IntegraProtocol

/// An `integra-server` the bench started on a loopback port and a data directory of its own.
public struct LocalServer: Sendable {
    public let process: ChildProcess
    public let dataDirectory: String
    public let configuration: ClientConfiguration
    /// MariaDB URL, when the server does not use SQLite in its data directory.
    public let database: String?
    let binary: String

    /// Starts the server and waits until it listens (its `client.json` names the real port).
    /// The server hashes at `bcryptCost`, the cost of the customers the bench creates: at another
    /// cost every first login would also re-hash the password at the server's.
    /// With `metrics` (as in production) the admin listener takes a free loopback port;
    /// without, the server runs with `--admin-listen off` and records no metrics.
    public static func start(
        binary: String, dataDirectory: String, database: String?, echo: Bool, bcryptCost: UInt8, metrics: Bool = true, timeoutMs: Int64 = 60_000
    ) async throws -> LocalServer {
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        // The per-session request rate limit is lifted: the bench measures capacity, and one
        // closed-loop session may go faster than a customer ever would. Metrics are on, as in
        // production: the admin listener takes a free loopback port.
        var arguments = ["run", "--listen", "127.0.0.1:0", "--data-dir", dataDirectory, "--no-demo-users", "--log-level", "warning",
                         "--requests-per-second", "1000000", "--bcrypt-cost", "\(bcryptCost)", "--admin-listen", metrics ? "127.0.0.1:0" : "off"]
        if let database { arguments += ["--database", database] }
        if echo { arguments.append("--echo") }
        let logPath = "\(dataDirectory)/server.log"
        let process = try ChildProcess.spawn(binary, arguments, outputPath: logPath)
        let configurationPath = "\(dataDirectory)/client.json"
        let deadline = ContinuousClock.now + .milliseconds(timeoutMs)
        while ContinuousClock.now < deadline {
            if let status = process.exitStatusIfEnded() {
                throw BenchFailure("integra-server exited with status \(status) while starting: \(Self.tail(of: logPath))")
            }
            if let configuration = try? ClientConfiguration.load(from: configurationPath),
               let address = try? configuration.hostAndPort(), address.port != 0 {
                return LocalServer(process: process, dataDirectory: dataDirectory, configuration: configuration, database: database, binary: binary)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        await process.stop()
        throw BenchFailure("integra-server did not start within \(timeoutMs / 1000) s: \(Self.tail(of: logPath))")
    }

    /// The address from `client.json`.
    public var address: String { self.configuration.server }

    /// Runs one of the server's admin commands against this server's data (with the server running).
    func admin(_ arguments: [String], inputPath: String? = nil) async throws {
        var all = arguments + ["--data-dir", self.dataDirectory]
        if let database { all += ["--database", database] }
        let logPath = "\(self.dataDirectory)/admin.log"
        let process = try ChildProcess.spawn(self.binary, all, inputPath: inputPath, outputPath: logPath)
        let status = await process.wait()
        guard status == 0 else {
            throw BenchFailure("integra-server \(arguments.prefix(2).joined(separator: " ")) failed with status \(status): \(Self.tail(of: logPath))")
        }
    }

    public func stop() async {
        await self.process.stop()
    }

    static func tail(of path: String) -> String {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(3).joined(separator: " | ")
    }
}
