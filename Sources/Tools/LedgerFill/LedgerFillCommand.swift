import ArgumentParser
import Foundation
import IntegraFiles
import IntegraLedger
import IntegraProtocol
import IntegraStoreFactory

/// Benchmark helpers: fills a fresh ledger quickly so `integra-server verify` can be timed on it
/// (`scripts/verify-bench` drives it), and times a customer's check of an inclusion proof on it.
@main
struct LedgerFillCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "integra-ledger-fill",
        abstract: "Benchmark helpers for Integra.",
        subcommands: [Fill.self, Proof.self])
}

/// Where the ledger is: the data directory (keys, default SQLite file) and the store URL.
struct LedgerLocationOptions: ParsableArguments {
    @Option(name: .long, help: "Directory holding the keys and the default SQLite file.")
    var dataDir = "./integra-data"

    @Option(name: .long, help: "Store URL: sqlite:PATH or mariadb://USER:PASSWORD@HOST:PORT/DATABASE (default: the SQLite file in the data directory).")
    var database: String?

    func location() throws -> DatabaseLocation {
        try self.database.map { try DatabaseLocation.parse($0) } ?? .defaultStore(inDataDirectory: self.dataDir)
    }
}

struct Fill: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fill an empty ledger with deposits and random transfers, committed in large groups.",
        discussion: "The same seed gives the same transfers. Creates the deployment's keys in the data directory if they are missing.")

    @OptionGroup var ledger: LedgerLocationOptions

    @Option(name: .long, help: "Ledger entries to write in all (one deposit per customer, the rest transfers).")
    var entries = 1_000_000

    @Option(name: .long, help: "Customers the transfers move money between.")
    var customers = 1_000

    @Option(name: .long, help: "Requests per store transaction.")
    var groupSize = 5_000

    @Option(name: .long, help: "Seed of the pseudo-random transfers.")
    var seed: UInt64 = 1

    static let maximumEntries = 100_000_000
    static let maximumCustomers = 1_000_000
    static let maximumGroupSize = 50_000

    func validate() throws {
        guard self.customers >= 2 && self.customers <= Self.maximumCustomers else { throw ValidationError("--customers must be 2 to \(Self.maximumCustomers)") }
        guard self.entries >= self.customers && self.entries <= Self.maximumEntries else {
            throw ValidationError("--entries must be at least --customers (one deposit each) and at most \(Self.maximumEntries)")
        }
        guard self.groupSize >= 1 && self.groupSize <= Self.maximumGroupSize else { throw ValidationError("--group-size must be 1 to \(Self.maximumGroupSize)") }
    }

    func run() async throws {
        let keys = try DeploymentKeys.loadOrCreate(in: self.ledger.dataDir).keys
        let store = try await StoreFactory.open(try self.ledger.location(), connections: 2, keys: keys)
        do {
            try await self.fill(store)
            await store.close()
        } catch {
            await store.close()
            throw error
        }
    }

    private func fill(_ store: any LedgerStore) async throws {
        let started = ContinuousClock.now
        guard try await store.head().position == 0 else { throw FillFailure("the ledger is not empty: fill needs a fresh store") }
        let baseTimeMs: Int64 = 1_767_225_600_000
        let width = String(self.customers - 1).count
        var users: [UserRecord] = []
        users.reserveCapacity(self.customers)
        for first in stride(from: 0, to: self.customers, by: self.groupSize) {
            let requests = (first..<min(first + self.groupSize, self.customers)).map { index in
                let name = "customer" + String(repeating: "0", count: width - String(index).count) + String(index)
                return WriteRequest(nonce: nil, operation: .createUser(username: Username(trustedCanonical: name), passwordHash: "!bench"))
            }
            for outcome in try await store.commit(requests, nowMs: baseTimeMs) {
                guard case .userCreated(let user) = outcome else { throw FillFailure("could not create a customer: \(outcome)") }
                users.append(user)
            }
        }
        // Enough money that no random transfer is ever refused.
        let depositCents: Int64 = 100_000_000_000
        let deposits = users.map { user in
            WriteRequest(nonce: nil, operation: .deposit(DepositIntent(transferID: TransferID(trusted: "deposit-\(user.id)"), recipient: user.username, amount: Amount(cents: depositCents))))
        }
        for first in stride(from: 0, to: deposits.count, by: self.groupSize) {
            try await Self.commit(Array(deposits[first..<min(first + self.groupSize, deposits.count)]), nowMs: baseTimeMs, store: store)
        }

        var random = SplitMix64(seed: self.seed)
        var written = users.count
        var group = 0
        while written < self.entries {
            let count = min(self.groupSize, self.entries - written)
            let requests = (0..<count).map { index -> WriteRequest in
                let sender = users[Int(random.next() % UInt64(users.count))]
                let offset = 1 + Int(random.next() % UInt64(users.count - 1))
                let recipient = users[(Int(sender.id - users[0].id) + offset) % users.count]
                let amount = Amount(cents: Int64(1 + random.next() % 100_000))
                return WriteRequest(nonce: nil, operation: .transfer(TransferIntent(
                    senderID: sender.id, sender: sender.username, transferID: TransferID(trusted: "bench-\(written + index)"),
                    recipient: recipient.username, amount: amount)))
            }
            try await Self.commit(requests, nowMs: baseTimeMs + Int64(group) * 1_000, store: store)
            written += count
            group += 1
            if group.isMultiple(of: 20) { FileHandle.standardError.write(Data("fill: \(written) entries\n".utf8)) }
        }
        let elapsed = (ContinuousClock.now - started).components
        let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
        print("fill: \(try await store.head().position) entries, \(self.customers) customers, \(String(format: "%.1f", seconds)) s")
    }

    /// Commits one group of movements; every one must be applied.
    private static func commit(_ requests: [WriteRequest], nowMs: Int64, store: any LedgerStore) async throws {
        for outcome in try await store.commit(requests, nowMs: nowMs) {
            guard case .transferred = outcome else { throw FillFailure("a bench movement was refused: \(outcome)") }
        }
    }
}

/// Why filling stopped.
struct FillFailure: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) { self.description = description }
}
