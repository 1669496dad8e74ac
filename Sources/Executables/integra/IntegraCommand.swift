import ArgumentParser
import Crypto
import Foundation
import IntegraClient
import IntegraFiles
import IntegraProtocol
import IntegraTransparency

@main
struct IntegraCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "integra",
        abstract: "The Integra client: register, log in, transfer, check balance and history.",
        discussion: """
            Every answer from the server is verified (MAC, sequence, timestamp, and at login the \
            server's pinned identity) before it is shown. --config, --server and --timeout-seconds \
            may stand before or after the subcommand. Exit codes: 0 success; 1 the server refused \
            (see the error name); 2 usage or configuration; 3 connection failure or timeout (a \
            transfer may be retried with the same --id: the error names the command); 4 an answer \
            failed verification.
            """,
        subcommands: [Register.self, Transfer.self, Balance.self, History.self, ChangePassword.self, VerifyReceipt.self, Audit.self, Head.self, Shell.self])

    /// Parsed here so that they may stand before the subcommand; each subcommand's group of the
    /// same type reuses these values and lists the options in its own help.
    @OptionGroup var connection: ConnectionOptions

    /// Runs the command; a command line that does not parse is one line on stderr and exit 2.
    static func main() async {
        let command: any ParsableCommand
        do {
            command = try await Self.asyncParseAsRoot()
        } catch {
            guard Self.exitCode(for: error) == .validationFailure else { Self.exit(withError: error) }
            let message = Self.message(for: error).split(whereSeparator: \.isNewline).first.map(String.init) ?? "invalid arguments"
            FileHandle.standardError.write(Data("integra: \(message) (see integra --help)\n".utf8))
            Self.exit(withError: ExitCode(2))
        }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                var synchronousCommand = command
                try synchronousCommand.run()
            }
        } catch {
            Self.exit(withError: error)
        }
    }
}

/// How to reach the server: configuration file, address override and answer timeout. Accepted
/// before or after the subcommand; given twice, the values must agree.
struct ConnectionOptions: ParsableArguments {
    @Option(
        name: .customLong("config"),
        help: ArgumentHelp("Client configuration file (default: $INTEGRA_CONFIG, ./integra-data/client.json, ~/.config/integra/client.json).", valueName: "file"))
    var configValues: [String] = []

    @Option(name: .customLong("server"), help: ArgumentHelp("Server address, overriding the configuration.", valueName: "host:port"))
    var serverValues: [String] = []

    @Option(name: .customLong("timeout-seconds"), help: ArgumentHelp("Seconds to wait for each answer, 1 to 86400 (default: 30).", valueName: "seconds"))
    var timeoutSecondsValues: [Int64] = []

    /// The longest answer timeout accepted, in seconds (one day).
    static let maximumTimeoutSeconds: Int64 = 86_400

    /// The configuration file given, if any.
    var config: String? { self.configValues.first }
    /// The server address given, if any.
    var server: String? { self.serverValues.first }
    /// How long to wait for each answer.
    var timeoutSeconds: Int64 { self.timeoutSecondsValues.first ?? 30 }

    /// Refuses an option given twice with different values, and a timeout out of range.
    func validate() throws {
        try Self.requireOneValue("--config", self.configValues)
        try Self.requireOneValue("--server", self.serverValues)
        try Self.requireOneValue("--timeout-seconds", self.timeoutSecondsValues)
        guard (1...Self.maximumTimeoutSeconds).contains(self.timeoutSeconds) else {
            throw ValidationError("--timeout-seconds must be 1 to \(Self.maximumTimeoutSeconds)")
        }
    }

    private static func requireOneValue<Value: Equatable>(_ option: String, _ values: [Value]) throws {
        guard let first = values.first, let other = values.first(where: { $0 != first }) else { return }
        throw ValidationError("\(option) was given twice with different values (\(first) and \(other)); give it once")
    }

    /// Finds and loads the client configuration in the documented order.
    func deployment() throws -> Deployment {
        let path = try self.configurationPath()
        let configuration: ClientConfiguration
        let deviceTokens: DeviceTokenStore
        let heads: TreeHeadStore
        do {
            configuration = try ClientConfiguration.load(from: path)
            deviceTokens = try DeviceTokenStore(configurationPath: path, configuration: configuration)
            heads = TreeHeadStore(configurationPath: path, identity: try configuration.stateMachineConfiguration().serverIdentityKey)
        } catch {
            throw IntegraClientError(kind: .configuration, message: error.message)
        }
        if configuration.transport == .plaintext {
            Output.warn("plaintext transport (no TLS): the password is readable on the wire. For loopback debugging only.")
        }
        return Deployment(
            configurationPath: path, configuration: configuration, options: self,
            deviceTokens: deviceTokens, receipts: ReceiptStore(configurationPath: path), heads: heads)
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
}

/// One deployment as the configuration describes it, with the options of this run: how to
/// connect and log in, where receipts and device tokens are kept.
struct Deployment {
    let configurationPath: String
    let configuration: ClientConfiguration
    let options: ConnectionOptions
    let deviceTokens: DeviceTokenStore
    let receipts: ReceiptStore
    /// The newest tree head this client verified for the deployment.
    let heads: TreeHeadStore

    /// The server identity key pinned in the configuration.
    func pinnedIdentity() throws -> Curve25519.Signing.PublicKey {
        do throws(ConfigurationError) {
            return try self.configuration.stateMachineConfiguration().serverIdentityKey
        } catch {
            throw IntegraClientError(kind: .configuration, message: error.message)
        }
    }

    /// Opens a verified connection and runs `body` on it.
    func withConnection<T>(_ body: (IntegraConnection) async throws -> T) async throws -> T {
        try await IntegraConnection.withConnection(
            configuration: self.configuration, server: self.options.server, timeoutMs: self.options.timeoutSeconds * 1000, body)
    }

    /// Logs in with the device token kept for this customer, and keeps the new one; then has
    /// the server prove that its ledger extends the newest tree head this client saw, and keeps
    /// the server's current head (exit 4 if it does not extend it).
    @discardableResult
    func login(_ connection: IntegraConnection, user: String, password: String) async throws -> (username: String, balance: String) {
        let session = try await connection.login(username: user, password: password, deviceTokens: self.deviceTokens) { error in
            Output.warn("cannot keep the device token: \(error.message)")
        }
        try await self.checkTreeHead(connection)
        return session
    }

    /// The consistency check of `login`.
    func checkTreeHead(_ connection: IntegraConnection) async throws {
        let earlier: TreeCheckpoint?
        let witnesses: (verifiers: [NoteVerifier], threshold: Int)
        do throws(ConfigurationError) {
            earlier = try self.heads.latest()?.checkpoint
            witnesses = try self.configuration.witnessPolicy()
        } catch {
            throw IntegraClientError(kind: .configuration, message: error.message)
        }
        guard let current = try await connection.treeHead(extending: earlier, identity: try self.pinnedIdentity(), witnesses: witnesses) else { return }
        guard current.checkpoint != earlier else { return }
        do {
            try self.heads.save(current.note)
        } catch {
            Output.warn("cannot keep the tree head: \(error.message)")
        }
    }

    /// The command line that sends a transfer again with the same id: the same deployment
    /// (configuration file by its absolute path), sender, recipient and amount.
    func retryCommand(user: String, recipient: String, amount: String, transferID: String, flags: [String]) -> String {
        var arguments = [CommandLine.arguments.first ?? "integra", "--config", URL(fileURLWithPath: self.configurationPath).standardizedFileURL.path]
        if let server = self.options.server { arguments += ["--server", server] }
        if !self.options.timeoutSecondsValues.isEmpty { arguments += ["--timeout-seconds", String(self.options.timeoutSeconds)] }
        arguments += ["transfer", "--user", user, "--to", recipient, "--id", transferID] + flags
        arguments += amount.hasPrefix("-") ? ["--", amount] : [amount]
        return Output.shellCommand(arguments)
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

    /// The password, from standard input or typed without echo.
    func password() throws -> String {
        try Self.readPassword(user: self.user, fromStandardInput: self.passwordStdin)
    }

    /// Reads one password: the first line of standard input, or typed without echo.
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

/// `integra register NAME`: creates an account.
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
            let name = try await self.connection.deployment().withConnection { try await $0.register(username: self.name, password: password) }
            return Output.Result(text: "registered \(name)", json: ["ok": .bool(true), "user": .string(name)])
        }
    }
}

/// `integra transfer`: sends money, keeps the signed receipt, and on a failure that leaves the
/// outcome open names the transfer id and the command that retries it safely.
struct Transfer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send money to another customer.",
        discussion: """
            Without an answer (exit 3), the transfer may or may not have been applied: the error \
            names its id and the command that retries it with the same id, which never pays twice.
            """)

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
            let deployment = try self.connection.deployment()
            var requestHandedOver = false
            let confirmation: TransferConfirmation
            do {
                confirmation = try await deployment.withConnection { connection in
                    try await deployment.login(connection, user: self.login.user, password: password)
                    requestHandedOver = true
                    return try await connection.transfer(to: self.to, amount: self.amount, transferID: transferID)
                }
            } catch let error as IntegraClientError where error.kind == .timeout || (error.kind == .connection && requestHandedOver) {
                let command = deployment.retryCommand(
                    user: self.login.user, recipient: self.to, amount: self.amount, transferID: transferID,
                    flags: (self.login.passwordStdin ? ["--password-stdin"] : []) + (self.login.json ? ["--json"] : []))
                throw Output.UnsettledTransfer(failure: error, transferID: transferID, retryCommand: command)
            }
            let receiptPath: String?
            do {
                receiptPath = try deployment.receipts.save(ReceiptFile(confirmation))
            } catch {
                Output.warn("the transfer is done but its receipt was not saved: \(error)")
                receiptPath = nil
            }
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

/// `integra balance`.
struct Balance: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show your balance.")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var login: LoginOptions

    func run() async throws {
        try await Output.run(json: self.login.json) {
            let password = try self.login.password()
            let deployment = try self.connection.deployment()
            let (name, balance) = try await deployment.withConnection { connection in
                let session = try await deployment.login(connection, user: self.login.user, password: password)
                return (session.username, try await connection.balance())
            }
            return Output.Result(text: "\(name): \(balance)", json: ["ok": .bool(true), "user": .string(name), "balance": .string(balance)])
        }
    }
}

/// `integra history`.
struct History: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show your transfers and deposits, newest first.")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var login: LoginOptions

    @Option(name: .long, help: "Show at most this many entries.")
    var limit = 100

    func run() async throws {
        try await Output.run(json: self.login.json) {
            let password = try self.login.password()
            let deployment = try self.connection.deployment()
            let entries = try await deployment.withConnection { connection in
                try await deployment.login(connection, user: self.login.user, password: password)
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

/// `integra change-password`.
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
            let deployment = try self.connection.deployment()
            try await deployment.withConnection { connection in
                try await deployment.login(connection, user: self.login.user, password: current)
                try await connection.changePassword(current: current, new: new)
            }
            return Output.Result(text: "password changed", json: ["ok": .bool(true)])
        }
    }
}

/// `integra verify-receipt FILE`: offline, against the pinned identity.
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
            let identity = try self.connection.deployment().pinnedIdentity()
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

/// `integra head`: the newest tree head this client verified, to compare with others.
struct Head: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the newest signed tree head of the ledger this client has verified (every command that logs in updates it).",
        discussion: """
            Customers, auditors and witnesses who compare heads of the same size and find different \
            roots have caught the server showing two ledgers. Exits 1 if no head was kept yet.
            """)

    @OptionGroup var connection: ConnectionOptions

    @Flag(name: .long, help: "Print one JSON object: origin, tree_size, root_hash (base64) and the signed note.")
    var json = false

    func run() async throws {
        try await Output.run(json: self.json) {
            let deployment = try self.connection.deployment()
            let kept: (checkpoint: TreeCheckpoint, note: [UInt8])?
            do throws(ConfigurationError) {
                kept = try deployment.heads.latest()
            } catch {
                throw IntegraClientError(kind: .configuration, message: error.message)
            }
            guard let kept else {
                throw IntegraClientError(kind: .server, message: "no tree head kept yet: log in once (for example `integra balance`)")
            }
            let root = Data(kept.checkpoint.rootHash).base64EncodedString()
            let note = String(decoding: kept.note, as: UTF8.self)
            return Output.Result(
                text: "\(kept.checkpoint.origin): \(kept.checkpoint.treeSize) entries, root \(root)\n\(note)",
                json: ["origin": .string(kept.checkpoint.origin), "tree_size": .int(Int64(clamping: kept.checkpoint.treeSize)), "root_hash": .string(root), "note": .string(note)])
        }
    }
}

/// What `integra audit` found for one receipt.
enum AuditStatus {
    case proven
    /// The server declined to answer (a verified error): the receipt was neither proven nor refuted.
    case notChecked
    /// The receipt or the server's proof failed a check.
    case failed

    var label: String {
        switch self {
        case .proven: "ok"
        case .notChecked: "NOT CHECKED"
        case .failed: "FAILED"
        }
    }
}

/// `integra audit`: asks the server to prove each saved receipt is still in the ledger.
struct Audit: AsyncParsableCommand {
    /// A refusal that says nothing about the receipt: the server may prove it later.
    static func declined(_ code: UInt16?) -> Bool {
        guard let code = code.flatMap(ErrorCode.init(rawValue:)) else { return false }
        return code.isRetryable || code == .integrityAlarm
    }

    static let configuration = CommandConfiguration(
        abstract: "Ask the server to prove that each of your saved receipts is still in the ledger, and check every proof.")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var login: LoginOptions

    func run() async throws {
        try await Output.run(json: self.login.json) {
            let deployment = try self.connection.deployment()
            let identity = try deployment.pinnedIdentity()
            let password = try self.login.password()
            let results: [(file: String, outcome: String, status: AuditStatus)] = try await deployment.withConnection { connection in
                let session = try await deployment.login(connection, user: self.login.user, password: password)
                var results: [(String, String, AuditStatus)] = []
                for stored in deployment.receipts.receipts(sender: session.username) {
                    guard let receipt = stored.receipt, let confirmation = receipt.confirmation else {
                        results.append((stored.path, "unreadable receipt", .failed))
                        continue
                    }
                    do {
                        let head = try await connection.auditInTree(confirmation, identity: identity)
                        results.append((stored.path, "entry \(receipt.position) is in the ledger's tree (signed head of \(head.treeSize) entries)", .proven))
                    } catch let error as IntegraClientError where error.kind == .server && Self.declined(error.code) {
                        // The server declined for now (an open integrity alarm, a busy server):
                        // nothing was shown that failed a check. Any other answer (an entry it
                        // says is not there) is a failure.
                        results.append((stored.path, "not checked: the server declined (\(error.message))", .notChecked))
                    } catch let error as IntegraClientError where error.kind != .connection && error.kind != .timeout {
                        results.append((stored.path, "FAILED: \(error.message)", .failed))
                    }
                }
                return results
            }
            let failures = results.filter { $0.status == .failed }.count
            let unchecked = results.filter { $0.status == .notChecked }.count
            let lines = results.map { "\($0.status.label)  \($0.file): \($0.outcome)" }
                + ["audit: receipts checked: \(results.count), failed: \(failures)" + (unchecked > 0 ? ", not checked: \(unchecked)" : "")]
            if failures > 0 {
                FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
                throw IntegraClientError(kind: .untrustedReply, message: "\(failures) of \(results.count) receipts could not be proven to be in the ledger")
            }
            if unchecked > 0 {
                FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
                throw IntegraClientError(kind: .server, message: "\(unchecked) of \(results.count) receipts were not checked: the server declined to prove them; try again later")
            }
            return Output.Result(text: lines.joined(separator: "\n"), json: [
                "ok": .bool(true), "receipts": .int(Int64(results.count)),
            ])
        }
    }
}
