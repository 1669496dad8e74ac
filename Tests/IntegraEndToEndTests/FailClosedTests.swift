import Crypto
import Foundation
import IntegraClient
import IntegraFiles
@testable import IntegraLedger
@testable import IntegraProtocol
@testable import IntegraServer
import IntegraStoreFactory
import IntegraTestSupport
import Testing

/// Someone who can write to the database, but holds no key file, edits, deletes and restores
/// rows while the server runs. The server must never spend, sign or show what it has not
/// verified, and the alarm it raises must stay until an operator acknowledges it. Each test
/// runs the attack through the real server and client, and checks the refusal by name and that
/// no money moved.
@Suite struct FailClosedTests {
    /// Runs `body` with a server that has alice (1000.00), bob (500.00) and carol (0.00) and three
    /// transfers made by the customers themselves: entries 1 and 2 are the deposits, 3 is alice →
    /// bob 10.00 (whose receipt `body` gets), 4 alice → carol 1.00, 5 bob → carol 2.00. Pass a
    /// database and a directory to restart on them afterwards.
    static func withLedger<T>(_ store: TestStore = .sqlite, _ body: (TestServer, TransferConfirmation) async throws -> T) async throws -> T {
        try await Self.withLedger(database: try store.freshLocation(), body)
    }

    /// `withLedger` on a given database (nil: SQLite in the data directory) and, to restart on
    /// them afterwards, a given data directory.
    static func withLedger<T>(
        database: DatabaseLocation?, directory: URL? = nil, _ body: (TestServer, TransferConfirmation) async throws -> T
    ) async throws -> T {
        // Checkpoints only when a test makes one.
        try await withTestServer(database: database, directory: directory, configure: { $0.checkpointIntervalMs = 3_600_000 }) { server in
            try await body(server, try await Self.makeLedger(server))
        }
    }

    /// The customers and transfers of `withLedger`; returns the receipt of entry 3.
    static func makeLedger(_ server: TestServer) async throws -> TransferConfirmation {
        try await server.addCustomer("alice", cents: 100_000)
        try await server.addCustomer("bob", cents: 50_000)
        try await server.addCustomer("carol", cents: 0)
        let receipt = try await server.withClient { client in
            try await client.login(username: "alice", password: TestServer.password)
            let receipt = try await client.transfer(to: "bob", amount: "10.00", transferID: "rent")
            _ = try await client.transfer(to: "carol", amount: "1.00", transferID: "coffee")
            return receipt
        }
        try await server.withClient { client in
            try await client.login(username: "bob", password: TestServer.password)
            _ = try await client.transfer(to: "carol", amount: "2.00", transferID: "gift")
        }
        return receipt
    }

    /// What a customer gets for a transfer: the receipt, or the refusal's code.
    static func transfer(_ server: TestServer, from sender: String, to recipient: String, amount: String, id: String) async throws -> Result<TransferConfirmation, IntegraClientError> {
        do {
            return .success(try await server.withClient { client in
                try await client.login(username: sender, password: TestServer.password)
                return try await client.transfer(to: recipient, amount: amount, transferID: id)
            })
        } catch let error as IntegraClientError {
            return .failure(error)
        }
    }

    /// Every balance and the number of entries: what must not change when money is refused.
    static func money(_ server: TestServer) async throws -> [String: Int64] {
        var balances: [String: Int64] = [:]
        for account in try await server.store.sealedAccounts() { balances[account.username] = account.balanceCents }
        balances["#entries"] = try await server.store.summary().entries
        return balances
    }

    static func expectRefusedByAlarm<T>(_ result: Result<T, IntegraClientError>, _ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
        switch result {
        case .success:
            Issue.record("the server answered although it should have refused with integrity_alarm \(comment.map { "(\($0))" } ?? "")", sourceLocation: sourceLocation)
        case .failure(let error):
            #expect(error.kind == .server && error.code == ErrorCode.integrityAlarm.rawValue, "\(error)", sourceLocation: sourceLocation)
        }
    }

    static func openAlarmKinds(_ server: TestServer) -> Set<String> {
        Set(server.deployment.monitor.alarms.open.map(\.kind))
    }

    static func userID(_ name: String, _ server: TestServer) async throws -> Int64 {
        try await Tampering.userID(name, server)
    }

    // MARK: Balances

    @Test(arguments: TestStore.all) func tamperedBalanceIsNeitherSpentNorResealed(store: TestStore) async throws {
        try await Self.withLedger(store) { server, _ in
            let alice = try await Self.userID("alice", server)
            try await Tampering.tamper(server, "UPDATE accounts SET balance_cents = 50000000 WHERE user_id = \(alice)")
            let before = try await Self.money(server)
            let tamperedMAC = try await server.store.sealedAccounts().first { $0.userID == alice }?.mac

            Self.expectRefusedByAlarm(try await Self.transfer(server, from: "alice", to: "bob", amount: "400000.00", id: "big"), "alice's raised balance")
            #expect(try await Self.money(server) == before, "no money moved")
            #expect(try await server.store.sealedAccounts().first { $0.userID == alice }?.mac == tamperedMAC, "the tampered row was not re-sealed")
            #expect(Self.openAlarmKinds(server) == ["balance-changed"])
            // While the alarm is open no money moves at all, not even between untouched accounts.
            Self.expectRefusedByAlarm(try await Self.transfer(server, from: "bob", to: "carol", amount: "1.00", id: "unrelated"), "alarm state")
            #expect(try await Self.money(server) == before)
            let found = try await Tampering.violations(server)
            #expect(found.contains { $0.kind == .balanceChanged && $0.userID == alice }, "verify still names it: \(found)")
        }
    }

    @Test(arguments: TestStore.all) func transferIntoARaisedBalanceIsRefused(store: TestStore) async throws {
        try await Self.withLedger(store) { server, _ in
            let alice = try await Self.userID("alice", server)
            try await Tampering.tamper(server, "UPDATE accounts SET balance_cents = balance_cents + 50000000 WHERE user_id = \(alice)")
            let before = try await Self.money(server)
            Self.expectRefusedByAlarm(try await Self.transfer(server, from: "bob", to: "alice", amount: "5.00", id: "into-raised"))
            #expect(try await Self.money(server) == before, "no money moved")
            #expect(Self.openAlarmKinds(server) == ["balance-changed"])
        }
    }

    @Test(arguments: TestStore.all) func tamperedRecipientBalanceWithARestoredSealIsRefused(store: TestStore) async throws {
        try await Self.withLedger(store) { server, _ in
            // An older, genuinely sealed row of carol's account (0.00, before any transfer to her):
            // its seal is right, but her latest entry left her with 3.00.
            let carol = try await Self.userID("carol", server)
            let seal = LedgerSeal(storageKey: server.deployment.keys.storageKey)
            try await Tampering.tamper(server, "UPDATE accounts SET balance_cents = 0, mac = \(Tampering.hex(seal.accountMAC(userID: carol, balanceCents: 0))) WHERE user_id = \(carol)")
            let before = try await Self.money(server)
            Self.expectRefusedByAlarm(try await Self.transfer(server, from: "alice", to: "carol", amount: "1.00", id: "to-carol"))
            #expect(try await Self.money(server) == before, "no money moved")
            #expect(Self.openAlarmKinds(server) == ["balance-mismatch"])
        }
    }

    @Test(arguments: TestStore.all) func tamperedBalanceIsNotShownAtLoginOrInBalance(store: TestStore) async throws {
        try await Self.withLedger(store) { server, _ in
            let bob = try await Self.userID("bob", server)
            try await Tampering.tamper(server, "UPDATE accounts SET balance_cents = 99999999 WHERE user_id = \(bob)")
            do {
                try await server.withClient { try await $0.login(username: "bob", password: TestServer.password) }
                Issue.record("a login showed a tampered balance")
            } catch let error as IntegraClientError {
                #expect(error.code == ErrorCode.integrityAlarm.rawValue, "\(error)")
            }
            #expect(Self.openAlarmKinds(server) == ["balance-changed"])
        }
    }

    // MARK: Entries, checkpoints and proofs

    @Test(arguments: TestStore.all) func forgedChainHashIsNeverSigned(store: TestStore) async throws {
        try await Self.withLedger(store) { server, receipt in
            let anchorBefore = Tampering.anchor(server)
            try await Tampering.tamper(server, "UPDATE entries SET chain_hash = \(Tampering.hex((0..<32).map { _ in UInt8.random(in: 0...255) })) WHERE position = 5")
            let identity = server.deployment.keys.identityKey.publicKey
            do {
                try await server.withClient { client in
                    try await client.login(username: "alice", password: TestServer.password)
                    _ = try await client.audit(receipt, identity: identity)
                }
                Issue.record("a proof was signed over a forged chain hash")
            } catch let error as IntegraClientError {
                #expect(error.kind == .server && error.code == ErrorCode.integrityAlarm.rawValue, "\(error)")
            }
            #expect(await server.deployment.monitor.checkpoint() == nil, "no checkpoint is signed while the alarm is open")
            #expect(Tampering.anchor(server) == anchorBefore, "the anchor did not move")
            #expect(!Self.openAlarmKinds(server).isEmpty)
        }
    }

    @Test(arguments: TestStore.all) func rewrittenReceiptedEntryIsNeitherShownNorProven(store: TestStore) async throws {
        try await Self.withLedger(store) { server, receipt in
            // Entry 3 (alice → bob 10.00, receipted) becomes 0.01 to carol; its chain hash is left.
            let carol = try await Self.userID("carol", server)
            try await Tampering.tamper(server, "UPDATE entries SET amount_cents = 1, to_user = \(carol) WHERE position = \(receipt.position)")
            let identity = server.deployment.keys.identityKey.publicKey
            try await server.withClient { client in
                try await client.login(username: "alice", password: TestServer.password)
                do {
                    _ = try await client.history()
                    Issue.record("history showed a rewritten entry")
                } catch let error as IntegraClientError {
                    #expect(error.code == ErrorCode.integrityAlarm.rawValue, "\(error)")
                }
                do {
                    _ = try await client.audit(receipt, identity: identity)
                    Issue.record("audit proved a rewritten entry")
                } catch let error as IntegraClientError {
                    #expect(error.code == ErrorCode.integrityAlarm.rawValue, "\(error)")
                }
            }
            #expect(Self.openAlarmKinds(server).contains("entry-changed"))
        }
    }

    @Test(arguments: TestStore.all) func entryEditedAndRechainedToTheHeadIsRefused(store: TestStore) async throws {
        try await Self.withLedger(store) { server, _ in
            try await Tampering.tamper(server, "UPDATE entries SET amount_cents = 5 WHERE position = 4")
            try await Tampering.rechain(server)
            let before = try await Self.money(server)
            Self.expectRefusedByAlarm(try await Self.transfer(server, from: "alice", to: "bob", amount: "1.00", id: "after-rechain"))
            #expect(try await Self.money(server) == before, "no money moved")
            #expect(await server.deployment.monitor.checkpoint() == nil)
            let found = try await Tampering.violations(server)
            #expect(found.contains { $0.kind == .entryNotSealed }, "\(found)")
        }
    }

    // MARK: Rollback and the anchor

    static let restoredTables = ["entries", "accounts", "users", "checkpoints", "tree_nodes", "tree_heads"]

    /// Copies the tables that hold money, as a backup would (the server is stopped).
    static func backUp(_ server: TestServer) async throws {
        for table in Self.restoredTables {
            try await Tampering.tamper(server, "CREATE TABLE backup_\(table) AS SELECT * FROM \(table)")
        }
        if server.database != nil { try await Tampering.tamper(server, "CREATE TABLE backup_ledger_head AS SELECT * FROM ledger_head") }
    }

    /// Puts the backup back (the server is stopped): an older copy of the database restored.
    static func restore(_ server: TestServer) async throws {
        var tables = Self.restoredTables
        // MariaDB must keep the system account's id 0 as it is, not take it for "a new id".
        var statements = server.database == nil ? [] : ["SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_AUTO_VALUE_ON_ZERO')"]
        if server.database != nil { tables.append("ledger_head") }
        for table in ["entries", "checkpoints", "tree_nodes", "tree_heads", "accounts", "ledger_head", "users"] where tables.contains(table) {
            statements.append("DELETE FROM \(table)")
        }
        for table in ["users", "accounts", "entries", "checkpoints", "tree_nodes", "tree_heads", "ledger_head"] where tables.contains(table) {
            statements.append("INSERT INTO \(table) SELECT * FROM backup_\(table)")
        }
        try await Tampering.tamper(server, statements)
    }

    /// A server on the database and in the data directory of one that ran before.
    static func withRestarted<T>(_ server: TestServer, _ body: (TestServer) async throws -> T) async throws -> T {
        try await withTestServer(database: server.database, directory: server.directory, configure: { $0.checkpointIntervalMs = 3_600_000 }, body)
    }

    @Test(arguments: TestStore.all) func restoredOlderCopyStaysAnAlarmUntilAcknowledged(store: TestStore) async throws {
        let database = try store.freshLocation()
        try await withTemporaryDirectory { directory in
            let first = try await Self.withLedger(database: database, directory: directory) { server, _ in server }
            try await Self.backUp(first)
            let second = try await Self.withRestarted(first) { second in
                let paid = try await Self.transfer(second, from: "alice", to: "carol", amount: "7.00", id: "receipted").get()
                #expect(paid.position == 6)
                _ = try #require(await second.deployment.monitor.checkpoint())
                return second
            }
            let anchor = try #require(Tampering.anchor(second))
            #expect(anchor.position == 6)

            try await Self.restore(second)
            try await Self.withRestarted(second) { restarted in
                // `deposit` and `user add` check the anchor before they write: a deposit here
                // would take position 6 again and sign a second head of 6 entries.
                do {
                    try await Administration.checkAnchor(
                        store: restarted.store, dataDirectory: restarted.directory.path, identity: restarted.deployment.keys.identityKey.publicKey)
                    Issue.record("an admin write to the restored copy was allowed")
                } catch LedgerError.integrityAlarm(let violation) {
                    #expect(violation.kind == .ledgerRolledBack && violation.message.contains("covers entry 6"), "\(violation)")
                }
                try await Self.restoredCopyStaysAnAlarm(restarted, anchor: anchor)
            }
        }
    }

    /// The restarted server of `restoredOlderCopyStaysAnAlarmUntilAcknowledged`, on the copy
    /// restored from before `anchor`.
    static func restoredCopyStaysAnAlarm(_ restarted: TestServer, anchor: LedgerCheckpoint) async throws {
        #expect(Self.openAlarmKinds(restarted) == ["ledger-rolled-back"])
        let before = try await Self.money(restarted)
        Self.expectRefusedByAlarm(try await Self.transfer(restarted, from: "alice", to: "bob", amount: "1.00", id: "reuse-6"), "position 6 must not be handed out again")
        #expect(try await Self.money(restarted) == before, "no money moved, no position reused")
        // What the background verifier and the checkpointer do on their schedules, done here a
        // few times: none of it may move the anchor over a rollback.
        let monitor = restarted.deployment.monitor
        for _ in 0..<3 {
            await monitor.refreshAlarms()
            await monitor.advance()
            #expect(await monitor.checkpoint() == nil, "no checkpoint is signed over a rollback")
        }
        #expect(Tampering.anchor(restarted) == anchor, "the anchor is never moved over a rollback")
        let found = try await Tampering.violations(restarted)
        #expect(found.map(\.kind).contains(.historyRewritten), "\(found)")

        // An operator deals with it: the alarm stays until acknowledged, then traffic resumes.
        let alarm = try #require(monitor.alarms.open.first)
        _ = try await monitor.alarms.acknowledge(id: alarm.id, reason: "restored from backup on purpose", operatorName: "test", nowMs: restarted.clock.nowMs())
        await monitor.refreshAlarms()
        let resumed = try await Self.transfer(restarted, from: "alice", to: "bob", amount: "1.00", id: "after-ack").get()
        #expect(resumed.position == 6)
        await monitor.checkpoint()
        let replaced = try #require(Tampering.anchor(restarted))
        #expect(replaced.position == 6 && replaced.chainHash == resumed.chainHash, "the anchor was replaced over the acknowledged rollback")
        restarted.deployment.server.auditTrail.flush()
        let trail = try String(contentsOf: restarted.directory.appendingPathComponent("audit"), encoding: .utf8, inFiles: "alarms-")
        #expect(trail.contains("\"acknowledged\"") && trail.contains("restored from backup on purpose"))
    }

    @Test(arguments: ["", "{\"position\":6,\"chainHa"]) func emptiedOrTruncatedAnchorRaisesTheAlarm(content: String) async throws {
        try await withTemporaryDirectory { directory in
            let server = try await Self.withLedger(database: nil, directory: directory) { server, _ in
                _ = try #require(await server.deployment.monitor.checkpoint())
                return server
            }
            try SecretFile.write(Data(content.utf8), to: directory.appendingPathComponent(Checkpointer.anchorFileName).path)
            try await Self.withRestarted(server) { restarted in
                #expect(Self.openAlarmKinds(restarted) == ["anchor-unreadable"])
                let before = try await Self.money(restarted)
                Self.expectRefusedByAlarm(try await Self.transfer(restarted, from: "alice", to: "bob", amount: "1.00", id: "no-anchor"))
                #expect(try await Self.money(restarted) == before)
            }
        }
    }

    @Test func deletedAnchorRaisesTheAlarm() async throws {
        try await withTemporaryDirectory { directory in
            let server = try await Self.withLedger(database: nil, directory: directory) { server, _ in
                _ = try #require(await server.deployment.monitor.checkpoint())
                return server
            }
            try FileManager.default.removeItem(at: directory.appendingPathComponent(Checkpointer.anchorFileName))
            try await Self.withRestarted(server) { restarted async throws in
                #expect(Self.openAlarmKinds(restarted) == ["anchor-unreadable"])
            }
        }
    }

    @Test func alarmsOutliveARestart() async throws {
        try await withTemporaryDirectory { directory in
            let server = try await Self.withLedger(database: nil, directory: directory) { server, _ in
                let bob = try await Self.userID("bob", server)
                try await Tampering.tamper(server, "UPDATE accounts SET balance_cents = 1 WHERE user_id = \(bob)")
                Self.expectRefusedByAlarm(try await Self.transfer(server, from: "bob", to: "carol", amount: "1.00", id: "x"))
                // The operator repairs the row by hand, then restarts without acknowledging.
                let seal = LedgerSeal(storageKey: server.deployment.keys.storageKey)
                try await Tampering.tamper(server, "UPDATE accounts SET balance_cents = 50800, mac = \(Tampering.hex(seal.accountMAC(userID: bob, balanceCents: 50_800))) WHERE user_id = \(bob)")
                return server
            }
            try await Self.withRestarted(server) { restarted in
                #expect(Self.openAlarmKinds(restarted) == ["balance-changed"], "an alarm is state, not a log line")
                Self.expectRefusedByAlarm(try await Self.transfer(restarted, from: "alice", to: "carol", amount: "1.00", id: "y"))
            }
        }
    }

    // MARK: Users

    @Test(arguments: TestStore.all, [false, true]) func restoredOldPasswordRowNeverLogsIn(store: TestStore, withVersion: Bool) async throws {
        try await Self.withLedger(store) { server, _ in
            let bob = try await Self.userID("bob", server)
            let old = try #require(try await server.store.sealedUsers().first { $0.id == bob })
            let newPassword = "a brand new passphrase"
            try await server.withClient { client in
                try await client.login(username: "bob", password: TestServer.password)
                try await client.changePassword(current: TestServer.password, new: newPassword)
            }
            var restore = "UPDATE users SET password_hash = '\(old.passwordHash)', mac = \(Tampering.hex(old.mac ?? []))"
            if withVersion { restore += ", credential_version = \(old.credentialVersion)" }
            try await Tampering.tamper(server, restore + " WHERE id = \(bob)")
            for password in [TestServer.password, newPassword] {
                do {
                    try await server.withClient { try await $0.login(username: "bob", password: password) }
                    Issue.record("a restored user row let someone in")
                } catch let error as IntegraClientError {
                    #expect(error.code == ErrorCode.integrityAlarm.rawValue, "\(error)")
                }
            }
            let kind = withVersion ? "user-rolled-back" : "user-changed"
            #expect(Self.openAlarmKinds(server) == [kind])
            let found = try await Tampering.violations(server)
            #expect(found.map(\.kind.rawValue) == [kind], "\(found)")
        }
    }

    // MARK: Operators' slips

    @Test func echoModeRefusesARealDeploymentAndItsReceiptsNeverVerifyThere() async throws {
        try await withTemporaryDirectory { directory in
            try await Self.withLedger(database: nil, directory: directory) { _, _ in }
            let clientJSON = directory.appendingPathComponent("client.json")
            let before = try Data(contentsOf: clientJSON)
            await #expect(throws: ConfigurationError.self) {
                try await withTestServer(database: nil, directory: directory, configure: { $0.echo = true }) { _ in }
            }
            #expect(try Data(contentsOf: clientJSON) == before, "client.json is untouched")

            try await withTestServer(database: nil, configure: { $0.echo = true }) { echo in
                let receipt = try await echo.withClient { client in
                    try await client.login(username: "mallory", password: "anything at all")
                    return try await client.transfer(to: "alice", amount: "1000000.00", transferID: "fake")
                }
                let real = try ClientConfiguration.load(from: clientJSON.path).stateMachineConfiguration().serverIdentityKey
                #expect(!Receipt.isValid(receipt, identity: real), "an echo receipt never verifies against the real deployment")
                #expect(!FileManager.default.fileExists(atPath: echo.directory.appendingPathComponent("identity.key").path), "echo keys live in memory only")
            }
        }
    }

    @Test func adminCommandsOnADirectoryWithoutADeploymentCreateNothing() throws {
        try withTemporaryDirectory { parent throws in
            let missing = parent.appendingPathComponent("typo")
            #expect(throws: DeploymentMissing.self) { _ = try DeploymentKeys.load(in: missing.path) }
            #expect(!FileManager.default.fileExists(atPath: missing.path))
        }
        try withTemporaryDirectory { empty throws in
            #expect(throws: DeploymentMissing.self) { _ = try DeploymentKeys.load(in: empty.path) }
            #expect(try FileManager.default.contentsOfDirectory(atPath: empty.path).isEmpty)
        }
    }

    @Test func symlinkedKeyFileIsRefusedAndItsTargetUntouched() async throws {
        try await withTemporaryDirectory { directory in
            try await Self.withLedger(database: nil, directory: directory) { _, _ in }
            try await withTemporaryDirectory { elsewhere in
                let identity = directory.appendingPathComponent("identity.key")
                let target = elsewhere.appendingPathComponent("elsewhere.key")
                try FileManager.default.moveItem(at: identity, to: target)
                let targetBytes = try Data(contentsOf: target)
                try FileManager.default.createSymbolicLink(at: identity, withDestinationURL: target)
                await #expect(throws: (any Error).self) { try await withTestServer(database: nil, directory: directory) { _ in } }
                #expect(try Data(contentsOf: target) == targetBytes)
            }
        }
    }

    @Test func plantedSymlinkIsReplacedNeverFollowed() async throws {
        try await withTemporaryDirectory { directory in
            try await Self.withLedger(database: nil, directory: directory) { _, _ in }
            try await withTemporaryDirectory { elsewhere in
                let clientJSON = directory.appendingPathComponent("client.json")
                let victim = elsewhere.appendingPathComponent("victim.txt")
                try Data("precious".utf8).write(to: victim)
                try FileManager.default.removeItem(at: clientJSON)
                try FileManager.default.createSymbolicLink(at: clientJSON, withDestinationURL: victim)
                try await withTestServer(database: nil, directory: directory) { _ in
                    #expect(try String(contentsOf: victim, encoding: .utf8) == "precious")
                    let attributes = try FileManager.default.attributesOfItem(atPath: clientJSON.path)
                    #expect(attributes[.type] as? FileAttributeType == .typeRegular)
                }
            }
        }
    }

    @Test func dataDirectoryWritableByOthersIsRefused() async throws {
        try await withTemporaryDirectory { directory async throws in
            chmod(directory.path, 0o777)
            await #expect(throws: ConfigurationError.self) { try await withTestServer(database: nil, directory: directory) { _ in } }
            #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("identity.key").path))
        }
    }
}

extension String {
    /// The concatenated contents of the files in `directory` whose names start with `prefix`.
    init(contentsOf directory: URL, encoding: String.Encoding, inFiles prefix: String) throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix(prefix) }.sorted()
        self = try names.map { try String(contentsOf: directory.appendingPathComponent($0), encoding: encoding) }.joined()
    }
}
