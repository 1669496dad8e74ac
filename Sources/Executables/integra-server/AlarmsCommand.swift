import ArgumentParser
import Foundation
import IntegraLedger
import IntegraProtocol
import IntegraServer
import IntegraStoreFactory
import Logging

/// `integra-server alarms`: the deployment's integrity alarms, and their acknowledgement.
struct Alarms: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the deployment's integrity alarms (open ones first).",
        discussion: """
            While any alarm is open the server moves no money and signs nothing new. Find out what \
            happened (`integra-server verify` names every finding), repair or restore what was changed, \
            then acknowledge the alarm with a reason; acknowledgements go into the audit trail.
            """,
        subcommands: [List.self, Acknowledge.self],
        defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the alarms; exits 1 if any is open.")

        @OptionGroup var store: StoreOptions

        @Flag(name: .long, help: "Print one JSON object per alarm.")
        var json = false

        @Flag(name: .long, help: "Also list acknowledged alarms.")
        var all = false

        func run() async throws {
            var configuration = ServerConfiguration()
            try CommandFailure.wrap { try self.store.apply(to: &configuration) }
            let alarms = try await withStore(configuration, access: .readOnly) { store in
                let alarms = try IntegrityAlarms(
                    dataDirectory: configuration.dataDirectory, store: store, seal: try storeSeal(configuration), auditTrail: nil,
                    logger: Logger(label: "integra.alarms"))
                try await alarms.refresh()
                return alarms.all
            }
            let shown = alarms.filter { self.all || $0.isOpen }.sorted { ($0.isOpen ? 0 : 1, $0.raisedAtMs) < ($1.isOpen ? 0 : 1, $1.raisedAtMs) }
            for alarm in shown {
                if self.json {
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                    print(String(decoding: try encoder.encode(alarm), as: UTF8.self))
                } else {
                    let state = alarm.isOpen ? "OPEN" : "acknowledged: \(alarm.acknowledgement ?? "")"
                    print("\(alarm.id)  \(Self.time(alarm.raisedAtMs))  \(alarm.kind)  \(alarm.detail)  [\(state)]")
                }
            }
            let open = alarms.filter(\.isOpen).count
            if !self.json {
                print(open == 0 ? "no open alarms" : "\(open) open alarm\(open == 1 ? "" : "s"): acknowledge with `integra-server alarms acknowledge ID --reason TEXT`")
            }
            if open > 0 { throw ExitCode(1) }
        }

        static func time(_ milliseconds: Int64) -> String {
            let formatter = ISO8601DateFormatter()
            return formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
        }
    }

    struct Acknowledge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Acknowledge an open alarm after dealing with it; recorded with the reason in the audit trail.")

        @Argument(help: "The alarm's id (from `integra-server alarms`).")
        var id: String

        @Option(name: .long, help: "What was found and done, for the audit trail (required).")
        var reason: String

        @OptionGroup var store: StoreOptions

        @Option(name: .long, help: "Directory of the audit trail (default: audit/ in the data directory).")
        var auditDir: String?

        func run() async throws {
            var configuration = ServerConfiguration()
            try CommandFailure.wrap { try self.store.apply(to: &configuration) }
            configuration.auditDirectory = self.auditDir
            let logger = Logger(label: "integra.alarms")
            let alarm = try await withStore(configuration, access: .existing) { store in
                let auditTrail = AuditTrail(directory: configuration.auditTrailDirectory, logger: logger)
                defer { auditTrail.close() }
                let alarms = try IntegrityAlarms(
                    dataDirectory: configuration.dataDirectory, store: store, seal: try storeSeal(configuration), auditTrail: auditTrail, logger: logger)
                let operatorName = ProcessInfo.processInfo.environment["SUDO_USER"] ?? ProcessInfo.processInfo.environment["USER"] ?? "uid \(getuid())"
                do {
                    return try await alarms.acknowledge(id: self.id, reason: self.reason, operatorName: operatorName, nowMs: WallClock.system.nowMs())
                } catch let error as ConfigurationError {
                    throw UsageFailure(error.message)
                }
            }
            print("acknowledged \(alarm.id) (\(alarm.kind)): \(alarm.acknowledgement ?? "")")
        }
    }
}

/// Parses a duration for an option: plain seconds, or a number with s, m, h or d.
enum DurationOption {
    static func parseMs(_ text: String, option: String) throws -> Int64 {
        let units: [Character: Int64] = ["s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000]
        var digits = Substring(text)
        var unit: Int64 = 1_000
        if let last = text.last, let multiplier = units[last] {
            digits = text.dropLast()
            unit = multiplier
        }
        guard let value = Int64(digits), value >= 0, value <= 365 * 86_400_000 / unit else {
            throw ConfigurationError("\(option) must be a number of seconds or end in s, m, h or d (for example 30m or 1d)")
        }
        return value * unit
    }
}
