import ArgumentParser
import Foundation
import IntegraClient
import IntegraFiles
import IntegraProtocol
import NIOCore
import Synchronization

struct BankRun: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Make random transfers until the duration ends, each retried with its id until a definite answer.")

    @OptionGroup var options: BankOptions

    @Option(name: .long, help: "Concurrent clients.")
    var clients = 16

    @Option(name: .long, help: "Seconds to keep starting new transfers.")
    var duration: Double = 30

    @Option(name: .long, help: "Seconds a started transfer may keep retrying after the duration before it is reported unresolved.")
    var settleSeconds: Double = 120

    @Option(name: .long, help: "Write acknowledged transfers here (JSON lines).")
    var acknowledged: String

    @Option(name: .long, help: "Write some request frames as sent (hex, one per line), for the replay check.")
    var captured: String

    func validate() throws {
        guard (1...512).contains(self.clients) else { throw ValidationError("--clients must be 1 to 512") }
        guard self.duration > 0 && self.duration <= 86_400 else { throw ValidationError("--duration must be above 0 and at most a day") }
    }

    func run() async throws {
        let (configuration, password) = try self.options.load()
        let names = self.options.accountNames
        let stopStarting = ContinuousClock.now + .milliseconds(Int64(self.duration * 1000))
        let giveUp = stopStarting + .milliseconds(Int64(self.settleSeconds * 1000))
        let counters = BankCounters()
        let results = try await withThrowingTaskGroup(of: WorkerResult.self) { group in
            for index in 0..<self.clients {
                let worker = BankWorker(
                    index: index, account: names[index % names.count], others: names.filter { $0 != names[index % names.count] },
                    password: password, configuration: configuration, timeoutMs: self.options.timeoutMs, counters: counters)
                group.addTask { await worker.run(stopStarting: stopStarting, giveUp: giveUp) }
            }
            group.addTask {
                while ContinuousClock.now < stopStarting {
                    try await Task.sleep(for: .seconds(2))
                    FileHandle.standardError.write(Data("integra-bank: \(counters.line)\n".utf8))
                }
                return WorkerResult()
            }
            return try await group.reduce(into: [WorkerResult]()) { $0.append($1) }
        }
        let acknowledged = results.flatMap(\.acknowledged)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var lines = ""
        for ack in acknowledged { lines += String(decoding: try encoder.encode(ack), as: UTF8.self) + "\n" }
        try Data(lines.utf8).write(to: URL(fileURLWithPath: self.acknowledged))
        try Data(results.flatMap(\.captured).map { $0 + "\n" }.joined().utf8).write(to: URL(fileURLWithPath: self.captured))
        let unresolved = results.reduce(0) { $0 + $1.unresolved }
        print("acknowledged=\(acknowledged.count) refused=\(counters.refused) retries=\(counters.retries) unresolved=\(unresolved)")
    }
}

/// Counts shared by the workers, for the progress line and the summary.
final class BankCounters: Sendable {
    private let values = Mutex<(acknowledged: Int, refused: Int, retries: Int)>((0, 0, 0))

    func acknowledged() { self.values.withLock { $0.acknowledged += 1 } }
    func refusedOne() { self.values.withLock { $0.refused += 1 } }
    func retried() { self.values.withLock { $0.retries += 1 } }

    var refused: Int { self.values.withLock { $0.refused } }
    var retries: Int { self.values.withLock { $0.retries } }
    var line: String {
        self.values.withLock { "acknowledged \($0.acknowledged), refused \($0.refused), retries \($0.retries)" }
    }
}

struct WorkerResult: Sendable {
    var acknowledged: [Acknowledgement] = []
    var captured: [String] = []
    var unresolved = 0
}

/// One client: logs in as its account and sends transfers one at a time. A transfer that got no
/// definite answer (a connection error, a timeout, a retryable error) is sent again with the
/// same id on a new connection, so it is applied at most once and acknowledged exactly once.
struct BankWorker: Sendable {
    let index: Int
    let account: String
    let others: [String]
    let password: String
    let configuration: ClientConfiguration
    let timeoutMs: Int64
    let counters: BankCounters

    struct Pending {
        let transferID: String
        let recipient: String
        let amount: String
    }

    func run(stopStarting: ContinuousClock.Instant, giveUp: ContinuousClock.Instant) async -> WorkerResult {
        var result = WorkerResult()
        var pending: Pending?
        var sequence = 0
        while ContinuousClock.now < giveUp && (pending != nil || ContinuousClock.now < stopStarting) {
            do {
                try await IntegraConnection.withConnection(configuration: self.configuration, timeoutMs: self.timeoutMs) { connection in
                    try await connection.login(username: self.account, password: self.password)
                    while pending != nil || ContinuousClock.now < stopStarting {
                        if pending == nil {
                            sequence += 1
                            pending = Pending(
                                transferID: "bank-\(self.index)-\(sequence)-\(UInt32.random(in: .min ... .max))",
                                recipient: self.others.randomElement()!,
                                amount: "\(Int.random(in: 1...20_000) / 100).\(String(format: "%02d", Int.random(in: 0...99)))")
                        }
                        let transfer = pending!
                        do {
                            let receipt = try await connection.transfer(to: transfer.recipient, amount: transfer.amount, transferID: transfer.transferID)
                            result.acknowledged.append(Acknowledgement(
                                sender: self.account, recipient: transfer.recipient, transferID: transfer.transferID,
                                amount: transfer.amount, position: receipt.position))
                            self.counters.acknowledged()
                        } catch let error as IntegraClientError where error.kind == .server && !error.isRetryable {
                            self.counters.refusedOne()  // a definite refusal, e.g. insufficient funds
                        }
                        pending = nil
                        if sequence % 50 == 1, let frame = connection.lastSentFrame {
                            result.captured.append(Array(frame.readableBytesView).hexString)
                        }
                    }
                }
            } catch {
                // No definite answer: retry the same transfer on a new connection.
                self.counters.retried()
                try? await Task.sleep(for: .milliseconds(Int64.random(in: 50...250)))
            }
        }
        if pending != nil { result.unresolved += 1 }
        return result
    }
}
