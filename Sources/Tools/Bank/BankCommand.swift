import ArgumentParser
import Foundation
import IntegraClient
import IntegraFiles
import IntegraProtocol

/// `integra-bank`: the bank workload of `scripts/fault-test`. `run` makes random transfers
/// among a few accounts from many clients, retrying each with the same id after any error or
/// timeout until the answer is definite; `check` verifies the invariants afterwards.
@main
struct BankCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "integra-bank",
        abstract: "The bank workload: concurrent random transfers under faults, and the invariant check.",
        subcommands: [BankRun.self, BankCheck.self])
}

/// Where the server is and how to log in to the workload's accounts.
struct BankOptions: ParsableArguments {
    @Option(name: .long, help: "The server's client.json.")
    var config: String

    @Option(name: .long, help: "Accounts acct1 ... acctN, all with the same password.")
    var accounts = 5

    @Option(name: .long, help: "File holding the accounts' password.")
    var passwordFile: String

    @Option(name: .long, help: "Seconds to wait for each answer.")
    var timeoutSeconds: Double = 3

    var accountNames: [String] { (1...self.accounts).map { "acct\($0)" } }

    func load() throws -> (ClientConfiguration, String) {
        let configuration = try ClientConfiguration.load(from: self.config)
        guard let password = try? String(contentsOfFile: self.passwordFile, encoding: .utf8).trimmingCharacters(in: .newlines) else {
            throw ValidationError("cannot read \(self.passwordFile)")
        }
        return (configuration, password)
    }

    func validate() throws {
        guard (2...100).contains(self.accounts) else { throw ValidationError("--accounts must be 2 to 100") }
        guard self.timeoutSeconds > 0 && self.timeoutSeconds <= 60 else { throw ValidationError("--timeout-seconds must be above 0 and at most 60") }
    }

    var timeoutMs: Int64 { Int64(self.timeoutSeconds * 1000) }
}

/// One acknowledged transfer, as the workload writes it (one JSON object per line).
struct Acknowledgement: Codable, Hashable {
    var sender: String
    var recipient: String
    var transferID: String
    var amount: String
    var position: UInt64
}
