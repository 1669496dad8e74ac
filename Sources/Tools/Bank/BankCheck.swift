import ArgumentParser
import Foundation
import IntegraClient
import IntegraLedger
import IntegraProtocol
import NIOCore

struct BankCheck: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check the invariants after a run; exit 0 only if all hold.")

    @OptionGroup var options: BankOptions

    @Option(name: .long, help: "The acknowledged transfers written by `run`.")
    var acknowledged: String

    @Option(name: .long, help: "The frames captured by `run`.")
    var captured: String

    @Option(name: .long, help: "What the accounts hold together, as a decimal amount.")
    var expectTotal: String

    func run() async throws {
        let (configuration, password) = try self.options.load()
        let expectedCents = try Amount.parse(self.expectTotal, maximumCents: Int64.max).cents
        let decoder = JSONDecoder()
        let acks = try String(contentsOfFile: self.acknowledged, encoding: .utf8).split(separator: "\n")
            .map { try decoder.decode(Acknowledgement.self, from: Data($0.utf8)) }

        // Every account's balance and outgoing transfers, as the server reports them (verified).
        var totalCents: Int64 = 0
        var negative: [String] = []
        var applied: [String: Int] = [:]  // sender/transferID -> times in the ledger
        var positions: [String: UInt64] = [:]
        for name in self.options.accountNames {
            let (balance, history) = try await Self.untilDefinite {
                try await IntegraConnection.withConnection(configuration: configuration, timeoutMs: 30_000) { connection in
                    try await connection.login(username: name, password: password)
                    return (try await connection.balance(), try await connection.fullHistory(maximumEntries: 10_000_000))
                }
            }
            guard let cents = Amount.parseBalance(balance) else { throw ValidationError("\(name): balance \(balance) is not a decimal amount") }
            totalCents += cents
            if cents < 0 { negative.append(name) }
            for entry in history where entry.kind == .transfer && entry.sender == name {
                applied["\(name)/\(entry.transferID)", default: 0] += 1
                positions["\(name)/\(entry.transferID)"] = entry.position
            }
        }
        let conserved = totalCents == expectedCents
        let appliedTwice = applied.filter { $0.value > 1 }.map(\.key)
        let missing = acks.filter { positions["\($0.sender)/\($0.transferID)"] != $0.position }
        let duplicatedAcks = Dictionary(grouping: acks, by: { "\($0.sender)/\($0.transferID)" }).filter { $0.value.count > 1 }.map(\.key)

        // Frames captured during the run are refused now, and move nothing.
        let frames = try String(contentsOfFile: self.captured, encoding: .utf8).split(separator: "\n").compactMap { [UInt8](hexString: String($0)) }
        var replaysAccepted = 0
        for frame in frames {
            // A retryable refusal (the store still reconnecting) says nothing yet: ask again.
            let code = try await Self.untilDefinite(retryIf: { $0.flatMap(ErrorCode.init(rawValue:))?.isRetryable ?? false }) {
                try await IntegraConnection.withConnection(configuration: configuration, timeoutMs: 30_000) { connection in
                    try await connection.sendRaw(ByteBuffer(bytes: frame))
                    guard let answer = try await connection.receiveRaw(), let raw = try? RawFrame(answer),
                          case .error(let code, _)? = try? ServerMessage.decode(type: raw.header.type, body: raw.body)
                    else { return UInt16?.none }
                    return code
                }
            }
            if code == nil { replaysAccepted += 1 }
        }
        let replaysRefused = replaysAccepted == 0

        func verdict(_ holds: Bool) -> String { holds ? "ok" : "VIOLATED" }
        if !conserved { print("total: \(Amount.format(cents: totalCents)), expected \(self.expectTotal)") }
        for name in negative { print("negative balance: \(name)") }
        for key in appliedTwice.prefix(20) { print("applied more than once: \(key)") }
        for ack in missing.prefix(20) { print("acknowledged but not in the ledger at its position: \(ack.sender)/\(ack.transferID) at \(ack.position)") }
        for key in duplicatedAcks.prefix(20) { print("acknowledged twice: \(key)") }
        print("""
            checked: acknowledged=\(acks.count) captured_frames=\(frames.count) \
            total_conserved=\(verdict(conserved)) no_negative_balance=\(verdict(negative.isEmpty)) \
            acknowledged_exactly_once=\(verdict(missing.isEmpty && duplicatedAcks.isEmpty)) \
            no_double_application=\(verdict(appliedTwice.isEmpty)) captured_frames_rejected=\(verdict(replaysRefused))
            """)
        guard conserved && negative.isEmpty && missing.isEmpty && duplicatedAcks.isEmpty && appliedTwice.isEmpty && replaysRefused else {
            throw ExitCode(1)
        }
    }

    /// Attempts of one check before its last answer or error counts, half a second to three
    /// seconds apart: the check starts right after the last fault, when the server may still be
    /// reconnecting to a restarted store and answering `store_unavailable`, or its password queue
    /// may be full (`server_busy`).
    private static let maximumAttempts = 60

    /// Runs `body` until its answer is definite: again after a retryable error, or an answer
    /// `retryIf` calls not definite, up to `maximumAttempts`.
    private static func untilDefinite<T>(retryIf: (T) -> Bool = { _ in false }, _ body: () async throws -> T) async throws -> T {
        var attempt = 1
        while true {
            do {
                let answer = try await body()
                guard retryIf(answer), attempt < Self.maximumAttempts else { return answer }
            } catch let error as IntegraClientError where error.isRetryable && attempt < Self.maximumAttempts {}
            attempt += 1
            // Longer waits, with jitter, after the first few: checks that ask together (logins
            // refused as `server_busy` by a full password queue) then don't ask together again.
            try await Task.sleep(for: .milliseconds(500 * min(attempt, 4) + Int.random(in: 0...500)))
        }
    }
}
