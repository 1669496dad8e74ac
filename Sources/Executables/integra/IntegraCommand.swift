import ArgumentParser
import Crypto
import Foundation
import IntegraClient
import IntegraProtocol

@main
struct IntegraCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "integra",
        abstract: "The Integra client: register, log in, transfer, check balance and history.",
        discussion: """
            Every answer from the server is verified (MAC, sequence, timestamp, and at login the \
            server's pinned identity) before it is shown. Exit codes: 0 success; 1 the server refused \
            (see the error name); 2 usage or configuration; 3 connection failure or timeout (a \
            transfer may be retried with the same --id); 4 an answer failed verification.
            """,
        subcommands: [Register.self, Transfer.self, Balance.self, History.self, ChangePassword.self, VerifyReceipt.self, Audit.self, Shell.self])
}

/// How to reach the server: configuration file and optional address override.
struct ConnectionOptions: ParsableArguments {
    @Option(name: .long, help: "Client configuration file (default: $INTEGRA_CONFIG, ./integra-data/client.json, ~/.config/integra/client.json).")
    var config: String?

    @Option(name: .long, help: "Server address HOST:PORT, overriding the configuration.")
    var server: String?

    @Option(name: .long, help: "Seconds to wait for each answer.")
    var timeoutSeconds: Int64 = 30

    /// Finds and loads the client configuration in the documented order.
    func loadConfiguration() throws -> ClientConfiguration {
        let path = try self.configurationPath()
        do {
            let configuration = try ClientConfiguration.load(from: path)
            if configuration.transport == .plaintext {
                FileHandle.standardError.write(Data("integra: WARNING: plaintext transport (no TLS): the password is readable on the wire. For loopback debugging only.\n".utf8))
            }
            return configuration
        } catch {
            throw IntegraClientError(kind: .configuration, message: error.message)
        }
    }

    /// The server identity key pinned in the configuration.
    func pinnedIdentity() throws -> Curve25519.Signing.PublicKey {
        let configuration = try self.loadConfiguration()
        do throws(ConfigurationError) {
            return try configuration.stateMachineConfiguration().serverIdentityKey
        } catch {
            throw IntegraClientError(kind: .configuration, message: error.message)
        }
    }

    /// The configuration file that the documented lookup order finds.
    func configurationPath() throws -> String {
        let environment = ProcessInfo.processInfo.environment
        var candidates: [String] = []
        if let config { candidates = [config] } else if let path = environment["INTEGRA_CONFIG"], !path.isEmpty { candidates = [path] } else {
            candidates = ["./integra-data/client.json"]
            if let home = environment["HOME"] { candidates.append("\(home)/.config/integra/client.json") }
        }
        guard let path = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw IntegraClientError(kind: .configuration, message: "no client configuration found (tried \(candidates.joined(separator: ", "))); pass --config FILE")
        }
        return path
    }

    /// Opens a verified connection and runs `body` on it.
    func withConnection<T>(_ body: (IntegraConnection) async throws -> T) async throws -> T {
        let configuration = try self.loadConfiguration()
        return try await IntegraConnection.withConnection(configuration: configuration, server: self.server, timeoutMs: self.timeoutSeconds * 1000, body)
    }
}

/// Options of the commands that log in first.
struct LoginOptions: ParsableArguments {
    @Option(name: .long, help: "Your user name.")
    var user: String

    @Flag(name: .long, help: "Read the password from the first line of standard input.")
    var passwordStdin = false

    @Flag(name: .long, help: "Print one JSON object (amounts as decimal strings).")
    var json = false

    func password() throws -> String {
        try Self.readPassword(user: self.user, fromStandardInput: self.passwordStdin)
    }

    static func readPassword(user: String, fromStandardInput: Bool) throws -> String {
        if fromStandardInput {
            guard let line = readLine(strippingNewline: true) else {
                throw IntegraClientError(kind: .configuration, message: "no password on standard input")
            }
            return line
        }
        guard let password = Terminal.readSecret(prompt: "Password for \(user): ") else {
            throw IntegraClientError(kind: .configuration, message: "no password given")
        }
        return password
    }
}

struct Register: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create an account.")

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "The new user name.")
    var name: String

    @Flag(name: .long, help: "Read the password from the first line of standard input.")
    var passwordStdin = false

    @Flag(name: .long, help: "Print one JSON object.")
    var json = false

    func run() async throws {
        try await Output.run(json: self.json) {
            let password = try LoginOptions.readPassword(user: self.name, fromStandardInput: self.passwordStdin)
            let name = try await self.connection.withConnection { try await $0.register(username: self.name, password: password) }
            return Output.Result(text: "registered \(name)", json: ["ok": .bool(true), "user": .string(name)])
        }
    }
}

struct Transfer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Send money to another customer.")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var login: LoginOptions

    @Option(name: .long, help: "The recipient's user name.")
    var to: String

    @Argument(help: "Amount, for example 10 or 10.50.")
    var amount: String

    @Option(name: .long, help: "Transfer id; retrying with the same id never pays twice (default: a new UUID).")
    var id: String?

    func run() async throws {
        let transferID = self.id ?? UUID().uuidString.lowercased()
        try await Output.run(json: self.login.json) {
            let password = try self.login.password()
            let confirmation = try await self.connection.withConnection { connection in
                try await connection.login(username: self.login.user, password: password)
                return try await connection.transfer(to: self.to, amount: self.amount, transferID: transferID)
            }
            let receiptPath = try? ReceiptFile(confirmation).save(
                in: ReceiptFile.directory(configurationPath: try self.connection.configurationPath(), sender: confirmation.sender))
            let text = "transferred \(confirmation.amount) from \(confirmation.sender) to \(confirmation.recipient)"
                + " (id \(confirmation.transferID), ledger position \(confirmation.position)\(confirmation.isRetry ? ", already applied earlier" : "")); balance \(confirmation.balanceAfter)"
                + (receiptPath.map { "\nreceipt: \($0)" } ?? "")
            return Output.Result(text: text, json: [
                "ok": .bool(true), "transfer_id": .string(confirmation.transferID), "position": .int(Int64(confirmation.position)),
                "from": .string(confirmation.sender), "to": .string(confirmation.recipient), "amount": .string(confirmation.amount),
                "balance": .string(confirmation.balanceAfter), "created_at_ms": .int(confirmation.createdAtMs), "retry": .bool(confirmation.isRetry),
                "receipt": receiptPath.map { .string($0) } ?? .string(""),
            ])
        }
    }
}

struct Balance: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show your balance.")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var login: LoginOptions

    func run() async throws {
        try await Output.run(json: self.login.json) {
            let password = try self.login.password()
            let (name, balance) = try await self.connection.withConnection { connection in
                let session = try await connection.login(username: self.login.user, password: password)
                return (session.username, try await connection.balance())
            }
            return Output.Result(text: "\(name): \(balance)", json: ["ok": .bool(true), "user": .string(name), "balance": .string(balance)])
        }
    }
}

struct History: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show your transfers and deposits, newest first.")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var login: LoginOptions

    @Option(name: .long, help: "Show at most this many entries.")
    var limit = 100

    func run() async throws {
        try await Output.run(json: self.login.json) {
            let password = try self.login.password()
            let entries = try await self.connection.withConnection { connection in
                try await connection.login(username: self.login.user, password: password)
                return try await connection.fullHistory(maximumEntries: max(1, self.limit))
            }.prefix(max(1, self.limit))
            let lines = entries.map(Output.describe)
            let json: [Output.JSONValue] = entries.map { entry in
                .object([
                    "position": .int(Int64(entry.position)), "kind": .string(entry.kind == .deposit ? "deposit" : "transfer"),
                    "transfer_id": .string(entry.transferID), "from": .string(entry.sender), "to": .string(entry.recipient),
                    "amount": .string(entry.amount), "balance_after": .string(entry.balanceAfter), "created_at_ms": .int(entry.createdAtMs),
                ])
            }
            return Output.Result(text: lines.isEmpty ? "no entries" : lines.joined(separator: "\n"), json: ["ok": .bool(true), "entries": .array(json)])
        }
    }
}

struct ChangePassword: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "change-password",
        abstract: "Change your password (with --password-stdin: current password on line 1, new on line 2).")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var login: LoginOptions

    func run() async throws {
        try await Output.run(json: self.login.json) {
            let current = try self.login.password()
            let new: String?
            if self.login.passwordStdin { new = readLine(strippingNewline: true) } else { new = Terminal.readSecret(prompt: "New password: ") }
            guard let new else { throw IntegraClientError(kind: .configuration, message: "no new password given") }
            try await self.connection.withConnection { connection in
                try await connection.login(username: self.login.user, password: current)
                try await connection.changePassword(current: current, new: new)
            }
            return Output.Result(text: "password changed", json: ["ok": .bool(true)])
        }
    }
}

struct VerifyReceipt: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify-receipt",
        abstract: "Check a saved transfer receipt offline against the server identity pinned in the configuration.")

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "A receipt file written by `integra transfer`.")
    var file: String

    @Flag(name: .long, help: "Print one JSON object.")
    var json = false

    func run() async throws {
        try await Output.run(json: self.json) {
            let identity = try self.connection.pinnedIdentity()
            let receipt: ReceiptFile
            do {
                receipt = try ReceiptFile.load(from: self.file)
            } catch {
                throw IntegraClientError(kind: .configuration, message: "cannot read receipt \(self.file): \(error)")
            }
            guard let confirmation = receipt.confirmation, Receipt.isValid(confirmation, identity: identity) else {
                throw IntegraClientError(kind: .untrustedReply, message: "the receipt is not signed by the pinned server: it was altered or forged")
            }
            return Output.Result(
                text: "receipt valid: \(receipt.amount) from \(receipt.sender) to \(receipt.recipient), id \(receipt.transferID), ledger position \(receipt.position)",
                json: ["ok": .bool(true), "transfer_id": .string(receipt.transferID), "position": .int(Int64(receipt.position)), "amount": .string(receipt.amount)])
        }
    }
}

struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ask the server to prove that each of your saved receipts is still in the ledger, and check every proof.")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var login: LoginOptions

    func run() async throws {
        try await Output.run(json: self.login.json) {
            let configurationPath = try self.connection.configurationPath()
            let identity = try self.connection.pinnedIdentity()
            let password = try self.login.password()
            let results: [(file: String, outcome: String, ok: Bool)] = try await self.connection.withConnection { connection in
                let session = try await connection.login(username: self.login.user, password: password)
                let directory = ReceiptFile.directory(configurationPath: configurationPath, sender: session.username)
                let files = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
                var results: [(String, String, Bool)] = []
                for file in files {
                    let path = directory.appendingPathComponent(file).path
                    guard let receipt = try? ReceiptFile.load(from: path), let confirmation = receipt.confirmation else {
                        results.append((path, "unreadable receipt", false))
                        continue
                    }
                    do {
                        let proof = try await connection.audit(confirmation, identity: identity)
                        results.append((path, "entry \(receipt.position) is in the ledger (proved up to entry \(proof.checkpointPosition))", true))
                    } catch let error as IntegraClientError where error.kind != .connection && error.kind != .timeout {
                        results.append((path, "FAILED: \(error.message)", false))
                    }
                }
                return results
            }
            let failures = results.filter { !$0.ok }.count
            let lines = results.map { "\($0.ok ? "ok" : "FAILED")  \($0.file): \($0.outcome)" } + ["audit: receipts checked: \(results.count), failed: \(failures)"]
            if failures > 0 {
                FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
                throw IntegraClientError(kind: .untrustedReply, message: "\(failures) of \(results.count) receipts could not be proven to be in the ledger")
            }
            return Output.Result(text: lines.joined(separator: "\n"), json: [
                "ok": .bool(true), "receipts": .int(Int64(results.count)),
            ])
        }
    }
}
