import ArgumentParser
import Foundation
import IntegraFiles
import IntegraProtocol
import IntegraWitness
import Logging
import ServiceLifecycle

@main
struct IntegraWitnessCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "integra-witness",
        abstract: "A witness that cosigns an Integra deployment's checkpoints only while each extends the last one it cosigned.",
        discussion: """
            Run by a customer or regulator, apart from the bank: clients that require its cosignature \
            can no longer be shown a history the witness has not seen extend. See docs/WITNESS.md. \
            Exit codes: 0 success; 1 alarms recorded (status) or a failure while running; 2 usage \
            or configuration.
            """,
        subcommands: [Init.self, VKey.self, Run.self, Status.self])

    /// Runs the command; every mistake a user can make (arguments, a missing directory, a bad
    /// key, a port in use) is one line on stderr and exit code 2.
    static func main() async {
        do {
            // Every subcommand is asynchronous.
            guard var command = try Self.parseAsRoot() as? any AsyncParsableCommand else { return }
            try await command.run()
        } catch let error as ConfigurationError {
            Self.fail(error.message, exitCode: 2)
        } catch let error as ExitCode {
            Self.exit(withError: error)
        } catch {
            let exitCode = Self.exitCode(for: error)
            guard exitCode == .validationFailure else {
                // --help and --version print and exit 0; anything else is a failure while running.
                if exitCode == .success { Self.exit(withError: error) }
                Self.fail("\(error)", exitCode: 1)
            }
            let message = Self.message(for: error).split(whereSeparator: \.isNewline).first.map(String.init) ?? "invalid arguments"
            Self.fail("\(message) (see integra-witness help)", exitCode: 2)
        }
    }

    private static func fail(_ message: String, exitCode: Int32) -> Never {
        FileHandle.standardError.write(Data("integra-witness: \(message)\n".utf8))
        Foundation.exit(exitCode)
    }
}

/// `--data-dir`, which every subcommand takes.
struct DataDirectoryOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The witness's directory: its key, the latest checkpoint it cosigned per log, its alarms.", valueName: "dir"))
    var dataDir: String

    /// The directory of an existing witness, checked (a directory, this user's, mode 0700).
    func existing() throws(ConfigurationError) -> String {
        guard DataDirectory.entryExists(self.dataDir) else {
            throw ConfigurationError("\(self.dataDir) does not exist; create the witness with `integra-witness init --data-dir \(self.dataDir) --name NAME`")
        }
        try DataDirectory.check(self.dataDir)
        return self.dataDir
    }
}

struct Init: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create the witness: its directory (mode 0700) and key. Prints the witness's vkey.",
        discussion: "Never overwrites a key: a witness with a new key is a new witness, which every client must be told about.")

    @OptionGroup var directory: DataDirectoryOption

    @Option(name: .long, help: ArgumentHelp("The witness's key name, conventionally a URL without scheme, e.g. witness.example.org/integra.", valueName: "name"))
    var name: String

    func run() async throws {
        umask(0o077)
        let key = try WitnessKey.create(in: self.directory.dataDir, keyName: self.name)
        print(key.verifier.verifierKey)
        FileHandle.standardError.write(Data("""
            integra-witness: created \(self.directory.dataDir)/\(WitnessKey.fileName). The line above is the witness's vkey: \
            give it to the bank's operator and to the clients that should require this witness.\n
            """.utf8))
    }
}

struct VKey: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "vkey", abstract: "Print the witness's vkey, which clients configure to count its cosignatures.")

    @OptionGroup var directory: DataDirectoryOption

    func run() async throws {
        print(try WitnessKey.load(from: try self.directory.existing()).verifier.verifierKey)
    }
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve POST /add-checkpoint until SIGTERM or SIGINT.",
        discussion: "Plain HTTP: cosignatures are verified with the witness's key by whoever uses them, and only checkpoints signed by a --log-key are honoured.")

    @OptionGroup var directory: DataDirectoryOption

    @Option(name: .long, help: ArgumentHelp("Address to listen on.", valueName: "host:port"))
    var listen = WitnessConfiguration.defaultListen

    @Option(
        name: .customLong("log-key"),
        help: ArgumentHelp("A log's checkpoint verifier key, <origin>+<key ID>+<key>, as the bank's operator publishes it; repeat for several logs.", valueName: "vkey"))
    var logKeys: [String] = []

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel = "info"

    func run() async throws {
        umask(0o077)
        guard let level = Logger.Level(rawValue: self.logLevel) else { throw ConfigurationError("--log-level must be one of trace, debug, info, notice, warning, error, critical") }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "integra.witness")
        let address = try ServerAddress.parse(self.listen)
        let configuration = WitnessConfiguration(
            dataDirectory: try self.directory.existing(), host: address.host, port: address.port,
            logVerifiers: try self.logKeys.map { verifierKey throws(ConfigurationError) in try WitnessConfiguration.logVerifier(verifierKey: verifierKey) })
        let service = try WitnessService(configuration: configuration, logger: logger)
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [service], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        logger.notice("stopped")
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the latest checkpoint cosigned per log and every alarm recorded; exits 1 if there is any alarm.")

    @OptionGroup var directory: DataDirectoryOption

    func run() async throws {
        let directory = try self.directory.existing()
        let key = try WitnessKey.load(from: directory)
        let store = WitnessStore(directory: directory)
        let checkpoints = try store.cosignedCheckpoints(witness: key.verifier)
        let alarms = try store.alarms()
        print("witness \(key.verifier.verifierKey)")
        if checkpoints.isEmpty { print("no checkpoint cosigned yet") }
        for cosigned in checkpoints {
            let time = cosigned.cosignedAtSeconds.map { " at \(Self.time($0))" } ?? ""
            print("log \(cosigned.checkpoint.origin): cosigned size \(cosigned.checkpoint.treeSize) root \(Data(cosigned.checkpoint.rootHash).base64EncodedString())\(time)")
        }
        for alarm in alarms {
            print("ALARM \(Self.time(alarm.refusedAtSeconds)) \(alarm.summary)")
        }
        guard alarms.isEmpty else {
            print("\(alarms.count) alarm\(alarms.count == 1 ? "" : "s"): the log signed checkpoints that do not extend what this witness cosigned; the evidence is in \(directory)/\(WitnessStore.alarmsFileName) (docs/WITNESS.md)")
            throw ExitCode(1)
        }
        print("no alarms")
    }

    static func time(_ seconds: UInt64) -> String {
        ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(seconds)))
    }
}
