public import ArgumentParser
import Foundation
import CoreMetrics
import IntegraAdmin
import IntegraFiles
import IntegraLedger
import IntegraVerifier
import IntegraMariaDBStore
import IntegraProtocol
import IntegraTransparency
import IntegraServer
import IntegraStoreFactory
import Crypto
import Logging
import ServiceLifecycle

@main
struct IntegraServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "integra-server",
        abstract: "Integra: integrity-checked transfers between customer accounts.",
        subcommands: [Run.self, UserCommand.self, Deposit.self, Summary.self, Migrate.self, Verify.self, RebuildTree.self, Alarms.self, LogKey.self],
        defaultSubcommand: Run.self)

    /// Runs the command; a usage or configuration mistake (`UsageFailure`) is one line on stderr
    /// and exit code 2, any other failure exit code 1.
    static func main() async {
        do {
            var command = try Self.parseAsRoot()
            if var asynchronous = command as? any AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                try command.run()
            }
        } catch let failure as UsageFailure {
            FileHandle.standardError.write(Data("Error: \(failure.description)\n".utf8))
            Foundation.exit(2)
        } catch {
            Self.exit(withError: error)
        }
    }
}

/// Where the deployment's files and store are.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: "Directory holding keys, client.json and the default SQLite file.")
    var dataDir = "./integra-data"

    @Option(name: .long, help: "Store URL: sqlite:PATH or mariadb://USER@HOST:PORT/DATABASE (default: the SQLite file in the data directory).")
    var database: String?

    @Option(name: .long, help: "File holding the MariaDB password (default: $INTEGRA_DATABASE_PASSWORD).")
    var databasePasswordFile: String?

    @Option(name: .long, help: "Connections to MariaDB.")
    var databaseConnections = 8

    @Option(
        name: .customLong("database-tls"),
        help: ArgumentHelp(
            "How the MariaDB connection is protected: disabled (clear text); required (encrypted, but the server's certificate is NOT checked, so an attacker on the path can pose as MariaDB); verify-ca (encrypted, the certificate must be signed by --database-ca); verify-identity (verify-ca, and the certificate must name the host). Default: required, or disabled for a loopback host.",
            valueName: "mode"))
    var databaseTLS: DatabaseTLS.Mode?

    @Option(name: .customLong("database-ca"), help: ArgumentHelp("PEM certificate of the CA that signed MariaDB's certificate, for --database-tls verify-ca or verify-identity.", valueName: "file"))
    var databaseCA: String?

    func apply(to configuration: inout ServerConfiguration) throws {
        umask(0o077)
        configuration.dataDirectory = self.dataDir
        configuration.databaseConnections = self.databaseConnections
        var password = ProcessInfo.processInfo.environment["INTEGRA_DATABASE_PASSWORD"]
        if let file = self.databasePasswordFile {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw CommandFailure("cannot read the database password file \(file)")
            }
            password = text.trimmingCharacters(in: .newlines)
        }
        configuration.database = try self.database.map { try DatabaseLocation.parse($0, password: password) }
        if self.databaseTLS != nil || self.databaseCA != nil {
            var location = configuration.databaseLocation
            try location.setTLS(mode: self.databaseTLS, certificateAuthorityPath: self.databaseCA)
            configuration.database = location
        }
    }
}

extension DatabaseTLS.Mode: ExpressibleByArgument {}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Start the server (the default).")

    @OptionGroup var store: StoreOptions

    @Option(name: .long, help: "Address to listen on, HOST:PORT.")
    var listen = "127.0.0.1:8080"

    @Flag(name: .long, help: "Do not create demo users on a new data directory.")
    var noDemoUsers = false

    @Option(name: .long, help: "bcrypt cost for new passwords (10 to 31).")
    var bcryptCost: UInt8 = 12

    @Option(name: .long, help: "Accepted clock difference and nonce memory, in seconds.")
    var replayWindowSeconds: Int64 = 120

    @Option(name: .long, help: "Close connections silent for this many seconds.")
    var idleTimeoutSeconds: Int64 = 300

    @Flag(name: .long, help: "Serve plain TCP instead of TLS 1.3. Passwords become readable on the wire: loopback debugging only.")
    var plaintext = false

    @Option(name: .long, help: "PEM certificate chain to serve instead of the self-signed one in the data directory.")
    var tlsCertificate: String?

    @Option(name: .long, help: "PEM private key of --tls-certificate.")
    var tlsKey: String?

    @Option(name: .long, help: "Maximum open connections.")
    var maxConnections = 10_000

    @Option(name: .long, help: "Maximum open connections from one IP address.")
    var maxConnectionsPerAddress = 256

    @Option(name: .long, help: "Seconds a new connection has to finish TLS and send its first frame.")
    var handshakeTimeoutSeconds: Int64 = 10

    @Option(name: .long, help: "Seconds a started frame has to arrive completely.")
    var frameTimeoutSeconds: Int64 = 10

    @Option(name: .long, help: "Requests per second one session may make (sustained; bursts of twice as many).")
    var requestsPerSecond = 1_000

    @Option(name: .long, help: "Password checks allowed to wait for the bcrypt pool; more are answered server_busy.")
    var maxPendingPasswordJobs = 256

    @Option(name: .long, help: "Largest frame accepted, in bytes.")
    var maxFrameBytes = FrameFormat.defaultMaximumFrameBytes

    @Option(name: .long, help: "Failed logins per account per hour before the account is locked for the rest of the hour.")
    var maxFailedLoginsPerHour = 100

    @Option(name: .long, help: "Directory for the daily audit trail files (default: audit/ in the data directory).")
    var auditDir: String?

    @Option(name: .long, help: "Largest single transfer, as a decimal amount.")
    var maxAmount = "1000000.00"

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    @Option(name: .long, help: ArgumentHelp("Log lines as text, or as one JSON object per line (time, level, label, message, metadata).", valueName: "text|json"))
    var logFormat: LogFormat = .text

    @Option(name: .long, help: ArgumentHelp("Admin listener (metrics, health checks, the operator's page), HOST:PORT, or off. Anything but a loopback address needs --admin-token-file, and serves TLS with the server's certificate.", valueName: "address"))
    var adminListen = AdminConfiguration.defaultListen

    @Option(name: .long, help: ArgumentHelp("File (mode 0600) holding the bearer token the admin listener requires on every request but the page's own files.", valueName: "file"))
    var adminTokenFile: String?

    @Flag(name: .long, help: "Benchmark baseline only: same frames and checks, but no ledger, no password check; every login succeeds. Needs an empty data directory; its keys live in memory only.")
    var echo = false

    @Option(name: .long, help: "How long a session lasts after its login before the server ends it (session_ended): seconds, or with a unit (30m, 12h, 1d).")
    var sessionLifetime = "12h"

    @Option(name: .long, help: "How often the background verifier checks the whole ledger: seconds, or with a unit (30m, 12h, 1d); 0 turns it off. The whole ledger is also verified once before the server listens.")
    var verifyEvery = "1d"

    @Option(name: .customLong("witness"), help: ArgumentHelp("A witness to push every new tree head to, URL=VKEY (the witness's URL and `integra-witness vkey`); repeatable.", valueName: "url=vkey"))
    var witnesses: [String] = []

    @Option(name: .long, help: ArgumentHelp("How many witness cosignatures clients require on a tree head (written to client.json); 0 to the number of --witness.", valueName: "n"))
    var witnessThreshold = 0

    func run() async throws {
        let level = Logger.Level(rawValue: self.logLevel) ?? .info
        let format = self.logFormat
        LoggingSystem.bootstrap { label in
            switch format {
            case .text:
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            case .json:
                var handler = JSONLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
        }
        let logger = Logger(label: "integra.server")
        umask(0o077)
        var configuration = ServerConfiguration()
        let admin: AdminConfiguration?
        do {
            try self.store.apply(to: &configuration)
            let address = try ServerAddress.parse(self.listen)
            configuration.host = address.host
            configuration.port = address.port
            configuration.createDemoUsers = !self.noDemoUsers && !self.echo
            configuration.echo = self.echo
            configuration.bcryptCost = self.bcryptCost
            configuration.replayWindowMs = self.replayWindowSeconds * 1000
            configuration.idleTimeoutMs = self.idleTimeoutSeconds * 1000
            configuration.maximumConnections = self.maxConnections
            configuration.plaintext = self.plaintext
            configuration.tlsCertificatePath = self.tlsCertificate
            configuration.tlsKeyPath = self.tlsKey
            configuration.maximumConnectionsPerAddress = self.maxConnectionsPerAddress
            configuration.handshakeTimeoutMs = self.handshakeTimeoutSeconds * 1000
            configuration.frameTimeoutMs = self.frameTimeoutSeconds * 1000
            configuration.requestsPerSecond = self.requestsPerSecond
            configuration.requestBurst = self.requestsPerSecond * 2
            configuration.maximumPendingPasswordJobs = self.maxPendingPasswordJobs
            configuration.maximumFrameBytes = self.maxFrameBytes
            configuration.loginThrottle.maximumFailuresPerAccountPerHour = self.maxFailedLoginsPerHour
            configuration.auditDirectory = self.auditDir
            configuration.maximumAmountCents = try Amount.parse(self.maxAmount, maximumCents: Int64.max).cents
            configuration.sessionLifetimeMs = try DurationOption.parseMs(self.sessionLifetime, option: "--session-lifetime")
            let verifyEveryMs = try DurationOption.parseMs(self.verifyEvery, option: "--verify-every")
            configuration.fullVerifyIntervalMs = verifyEveryMs == 0 ? nil : verifyEveryMs
            configuration.witnessThreshold = self.witnessThreshold
            do {
                configuration.witnesses = try self.witnesses.map { text throws(ConfigurationError) in try WitnessEndpoint.parse(text) }
            } catch {
                throw UsageFailure("\(error)")
            }
            try configuration.validate()
        } catch let usage as UsageFailure {
            throw usage
        } catch {
            throw CommandFailure("\(error)")
        }
        do {
            admin = try self.adminConfiguration(configuration)
        } catch {
            throw UsageFailure("\(error)")
        }
        if self.echo {
            logger.warning("echo mode: requests are answered without the store and without checking passwords; for benchmarks only")
        }
        // With an admin listener, metrics go to its Prometheus registry (the process's metrics
        // system too, for the stores' own counters); without one, nowhere.
        let exporter = admin.map { _ in MetricsExporter() }
        if let exporter { MetricsSystem.bootstrap(exporter.factory) }
        let (deployment, demoUsers) = try await CommandFailure.wrap {
            try await IntegraDeployment.start(configuration: configuration, metrics: exporter?.serverMetrics ?? .disabled, logger: logger)
        }
        if !demoUsers.isEmpty {
            print("Integra is ready. Demo users (passwords are shown only this once):")
            for user in demoUsers {
                print("  \(user.name.padding(toLength: 8, withPad: " ", startingAt: 0)) password: \(user.password)   balance: \(user.balance)")
            }
            print("Client configuration: \(configuration.dataDirectory)/client.json")
            print("Try: echo '\(demoUsers[0].password)' | integra balance --user \(demoUsers[0].name) --password-stdin")
            fflush(nil)
        }
        // SIGTERM and SIGINT shut down gracefully: stop accepting, let requests in flight
        // finish, flush the group commit, sign a last checkpoint, exit 0.
        // The admin listener is shut down after the deployment, so it reports "shutting down"
        // while requests drain.
        var services: [any Service] = [deployment]
        if let admin, let exporter {
            services.insert(AdminServer(
                configuration: admin, exporter: exporter, activity: exporter.serverMetrics.activity,
                logger: Logger(label: "integra.admin"), state: { await deployment.operationalState() }), at: 0)
        }
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        logger.notice("stopped")
    }
}

/// `--log-format`.
enum LogFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

extension Run {
    /// The admin listener's configuration, or nil for `--admin-listen off`.
    func adminConfiguration(_ server: ServerConfiguration) throws -> AdminConfiguration? {
        guard self.adminListen != "off" else {
            guard self.adminTokenFile == nil else { throw AdminConfigurationError("--admin-token-file needs an admin listener; remove --admin-listen off") }
            return nil
        }
        let address: (host: String, port: Int)
        do {
            address = try ServerAddress.parse(self.adminListen)
        } catch {
            throw AdminConfigurationError("--admin-listen: \(error)")
        }
        var admin = AdminConfiguration(host: address.host, port: address.port)
        if let file = self.adminTokenFile { admin.token = try AdminConfiguration.readToken(path: file) }
        if !admin.isLoopback {
            guard !server.plaintext else {
                throw AdminConfigurationError("--admin-listen \(address.host) is not a loopback address: the admin listener serves TLS with the server's certificate, which --plaintext has not")
            }
            (admin.tlsCertificatePath, admin.tlsKeyPath) = ServerTLS.paths(server)
        }
        try admin.validate()
        return admin
    }
}

struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "user", abstract: "Manage customers.", subcommands: [Add.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a customer; the password is read from standard input.")

        @Argument(help: "The customer's name.")
        var name: String

        @Flag(name: .long, help: "Read the password from the first line of standard input.")
        var passwordStdin = false

        @Option(name: .long, help: "bcrypt cost (10 to 31); default: the cost the deployment's server uses, so every login costs the same.")
        var bcryptCost: UInt8?

        @OptionGroup var store: StoreOptions

        func run() async throws {
            guard self.passwordStdin else { throw CommandFailure("--password-stdin is required: pipe the password in") }
            guard let password = readLine(strippingNewline: true) else { throw CommandFailure("no password on standard input") }
            var configuration = ServerConfiguration()
            try CommandFailure.wrap { try self.store.apply(to: &configuration) }
            let user = try await withStore(configuration, access: .existing) { store in
                try await Administration.checkAnchor(store: store, dataDirectory: configuration.dataDirectory, identity: try loadKeys(configuration).identityKey.publicKey)
                var configuration = configuration
                let recorded = try await store.setting(.bcryptCost).flatMap { UInt8(exactly: $0) }
                configuration.bcryptCost = self.bcryptCost ?? recorded ?? configuration.bcryptCost
                try configuration.validate()
                return try await PasswordHasher.withHasher(cost: configuration.bcryptCost) { hasher in
                    try await Administration.addUser(name: self.name, password: password, store: store, hasher: hasher, policy: configuration.passwordPolicy)
                }
            }
            print("added user \(user.username)")
        }
    }
}

struct Deposit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Deposit money into a customer's account from the system account.")

    @Argument(help: "The customer's name.")
    var name: String

    @Argument(help: "Amount, for example 100.00.")
    var amount: String

    @Option(name: .long, help: "Deposit id, to make a retried deposit safe (default: a new UUID).")
    var id: String?

    @OptionGroup var store: StoreOptions

    func run() async throws {
        var configuration = ServerConfiguration()
        try CommandFailure.wrap { try self.store.apply(to: &configuration) }
        let entry = try await withStore(configuration, access: .existing) { store in
            let alarms = try IntegrityAlarms(
                dataDirectory: configuration.dataDirectory, store: store, seal: try storeSeal(configuration),
                auditTrail: nil, logger: Logger(label: "integra.deposit"))
            do {
                try await Administration.checkAnchor(store: store, dataDirectory: configuration.dataDirectory, identity: try loadKeys(configuration).identityKey.publicKey)
                return try await Administration.deposit(to: self.name, amount: self.amount, maximumCents: Int64.max, transferID: self.id, store: store, alarms: alarms)
            } catch LedgerError.integrityAlarm(let violation) {
                await alarms.raise(violation, nowMs: WallClock.system.nowMs())
                throw LedgerError.integrityAlarm(violation)
            }
        }
        print("deposited \(entry.amount) to \(entry.to) (ledger position \(entry.position), balance \(Amount.format(cents: entry.toBalanceAfterCents)))")
    }
}

struct Summary: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print ledger totals: customers, entries, balances and deposits; exits 1 if money is not conserved.")

    @OptionGroup var store: StoreOptions

    func run() async throws {
        var configuration = ServerConfiguration()
        try CommandFailure.wrap { try self.store.apply(to: &configuration) }
        let summary = try await withStore(configuration, access: .readOnly) { store in try await store.summary() }
        print("customers: \(summary.customers)")
        print("entries: \(summary.entries)")
        print("customer balances: \(Amount.format(cents: summary.customerBalanceCents))")
        print("deposited: \(Amount.format(cents: summary.depositedCents))")
        let conserved = summary.customerBalanceCents == summary.depositedCents && summary.systemBalanceCents == -summary.depositedCents
        print("conserved: \(conserved ? "yes" : "NO")")
        // Money that is not conserved is a finding, like one of `verify`'s.
        if !conserved { throw ExitCode(1) }
    }
}

/// `integra-server log-key`: the verifier key of the deployment's tree heads, for witnesses.
struct LogKey: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log-key",
        abstract: "Print the C2SP verifier key of the deployment's signed tree heads (what `integra-witness run --log-key` takes).")

    @Option(name: .long, help: "Directory holding keys, client.json and the default SQLite file.")
    var dataDir = "./integra-data"

    func run() throws {
        var configuration = ServerConfiguration()
        configuration.dataDirectory = self.dataDir
        let keys = try loadKeys(configuration)
        print(TreeHeadKey.verifier(identity: keys.identityKey.publicKey).verifierKey)
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create or upgrade the store's schema, then exit.")

    @OptionGroup var store: StoreOptions

    func run() async throws {
        var configuration = ServerConfiguration()
        try CommandFailure.wrap { try self.store.apply(to: &configuration) }
        let version = try await withStore(configuration, access: .existing) { store in try await store.schemaVersion() }
        print("schema is at version \(version)")
    }
}

struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the ledger's integrity: hash chain, row seals, balances against entries, and the signed tree heads against the tree of the entries.",
        discussion: "Reads the store without writing to it (it must be at the latest schema version). Prints each violation with its kind and place and exits 1 if there is any.")

    @OptionGroup var store: StoreOptions

    @Option(name: .long, help: "Entries read per page.")
    var pageSize = 20_000

    func run() async throws {
        var configuration = ServerConfiguration()
        try CommandFailure.wrap { try self.store.apply(to: &configuration) }
        let keys = try loadKeys(configuration)
        let started = ContinuousClock.now
        let (verifier, violations) = try await withStore(configuration, access: .readOnly) { store in
            var reported: Int64 = 0
            let seal = LedgerSeal(storageKey: keys.storageKey)
            let anchor: LedgerCheckpoint?
            var findings: [IntegrityViolation] = []
            switch Checkpointer.loadAnchor(dataDirectory: configuration.dataDirectory) {
            case .present(let present): anchor = present
            case .absent: anchor = nil
            case .unreadable(let reason):
                anchor = nil
                findings.append(IntegrityViolation(kind: .anchorUnreadable, message: reason))
            }
            let verifier = try await LedgerVerifier.run(
                store: store, seal: seal, anchor: anchor,
                isAuthentic: { Checkpointer.isAuthentic($0, identity: keys.identityKey.publicKey) },
                identity: keys.identityKey.publicKey,
                pageSize: max(1, self.pageSize)
            ) { checked in
                guard checked - reported >= 500_000 else { return }
                reported = checked
                FileHandle.standardError.write(Data("verify: \(checked) entries checked\n".utf8))
            }
            findings += try await IntegrityMonitor.confirmed(verifier.violations, store: store, seal: seal)
            return (verifier, findings)
        }
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        for violation in violations { print(violation) }
        let rate = seconds > 0 ? Int(Double(verifier.entriesChecked) / seconds) : 0
        print("verify: \(verifier.entriesChecked) entries, \(violations.count) violations, \(String(format: "%.2f", seconds)) s (\(rate) entries/s)")
        if !violations.isEmpty { throw ExitCode(1) }
    }
}

struct RebuildTree: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebuild-tree",
        abstract: "Rewrite the ledger's stored Merkle tree nodes from the verified entries.",
        discussion: """
            The repair for tree nodes that `verify` reports changed, missing or malformed, and for a tree that \
            the server no longer builds on (a deleted head). Every entry is checked (chain link and row seal) \
            before its nodes are written, and the rebuilt tree must fold to the root of the latest signed head: \
            otherwise it stops, prints the finding and exits 1. A head is signed only for entries beyond the \
            latest signed head. The server may be running. Afterwards run `verify`, then acknowledge the alarm \
            with `integra-server alarms acknowledge`.
            """)

    @OptionGroup var store: StoreOptions

    func run() async throws {
        var configuration = ServerConfiguration()
        try CommandFailure.wrap { try self.store.apply(to: &configuration) }
        let rewrite = try await withStore(configuration, access: .existing) { store in
            guard let rewriting = store as? any TreeNodeRewriting else { throw CommandFailure("this store cannot rewrite its tree") }
            do {
                return try await rewriting.rewriteTreeNodes { run in
                    FileHandle.standardError.write(Data("rebuild-tree: \(run.treeSize)/\(run.entries) entries\n".utf8))
                }
            } catch LedgerError.integrityAlarm(let violation) {
                print(violation)
                print("rebuild-tree: stopped; the runs before that point were written, nothing was signed")
                throw ExitCode(1)
            }
        }
        let size = rewrite.frontier.treeSize
        let matched = rewrite.matchedSignedSize
        print("rebuild-tree: the tree's nodes over \(size) entries were rewritten from the verified entries")
        switch (matched, rewrite.signedSize) {
        case (0, nil):
            print("rebuild-tree: the ledger is empty")
        case (let matched, nil):
            print("rebuild-tree: its root is the one the identity key signed for \(matched) entries")
        case (0, let signed?):
            print("rebuild-tree: no signed head was stored, so nothing compared the tree with what was signed before; the head of \(signed) entries was signed now (a witness or a customer's remembered head can tell whether it extends what they saw)")
        case (let matched, let signed?):
            print("rebuild-tree: its root at \(matched) entries is the signed one; the head of \(signed) entries was signed now (the later heads were missing)")
        }
    }
}

/// The keys of the deployment in the configured data directory. A directory without a
/// deployment is an operator's slip (a typo in a path): one line, exit code 2, nothing created.
func loadKeys(_ configuration: ServerConfiguration) throws -> DeploymentKeys {
    do {
        return try DeploymentKeys.load(in: configuration.dataDirectory)
    } catch let missing as DeploymentMissing {
        throw UsageFailure(missing.description)
    } catch {
        throw CommandFailure("\(error)")
    }
}

/// The row-seal key of the configured deployment.
func storeSeal(_ configuration: ServerConfiguration) throws -> LedgerSeal {
    LedgerSeal(storageKey: try loadKeys(configuration).storageKey)
}

/// Opens the configured store of an existing deployment (never creates one), runs `body`, and
/// closes the store whatever happens.
func withStore<T>(_ configuration: ServerConfiguration, access: StoreFactory.Access, _ body: (any LedgerStore) async throws -> T) async throws -> T {
    let keys = try loadKeys(configuration)
    let store: any LedgerStore
    do {
        store = try await Administration.openStore(configuration, keys: keys, access: access)
    } catch let missing as StoreMissing {
        throw UsageFailure(missing.description)
    } catch LedgerError.deploymentMismatch {
        // A path or URL that names another deployment's store is the operator's slip.
        throw UsageFailure("\(LedgerError.deploymentMismatch)")
    } catch {
        throw CommandFailure("\(error)")
    }
    do {
        let result = try await body(store)
        await store.close()
        return result
    } catch let error as UsageFailure {
        await store.close()
        throw error
    } catch let error as ExitCode {
        await store.close()
        throw error
    } catch {
        await store.close()
        throw CommandFailure("\(error)")
    }
}

/// A usage or configuration mistake (a data directory without a deployment, a missing store):
/// one line on stderr, exit code 2.
struct UsageFailure: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}

/// A failure reported as one clear line on stderr with exit code 1.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }

    static func wrap<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as CommandFailure { throw error } catch { throw CommandFailure("\(error)") }
    }

    static func wrap<T>(_ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch let error as CommandFailure { throw error } catch { throw CommandFailure("\(error)") }
    }
}
