import Crypto
import Foundation
import IntegraClient
import IntegraFiles
@testable import IntegraLedger
@testable import IntegraProtocol
@testable import IntegraServer
import IntegraStoreFactory
import Testing

/// Someone who can write to the database, but holds no key file, edits, deletes and restores
/// rows while the server runs. The server must never spend, sign or show what it has not
/// verified, and the alarm it raises must stay until an operator acknowledges it. Each test
/// runs the attack through the real server and client, and checks the refusal by name and that
/// no money moved.
@Suite struct FailClosedTests {
    /// A server with alice (1000.00), bob (500.00) and carol (0.00) and three transfers made by
    /// the customers themselves: entries 1 and 2 are the deposits, 3 is alice → bob 10.00 (whose
    /// receipt is returned), 4 alice → carol 1.00, 5 bob → carol 2.00.
    static func ledger(_ store: TestStore, configure: @escaping (inout ServerConfiguration) -> Void = { _ in }) async throws -> (TestServer, TransferConfirmation) {
        let server = try await TestServer.start(store) { configuration in
            configuration.checkpointIntervalMs = 3_600_000
            configure(&configuration)
        }
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
        return (server, receipt)
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
        try await TamperTests.userID(name, server)
    }

    // MARK: Balances

    @Test(arguments: TestStore.all) func tamperedBalanceIsNeitherSpentNorResealed(store: TestStore) async throws {
        let (server, _) = try await Self.ledger(store)
        defer { Task { await server.stop() } }
        let alice = try await Self.userID("alice", server)
        try await TamperTests.tamper(server, "UPDATE accounts SET balance_cents = 50000000 WHERE user_id = \(alice)")
        let before = try await Self.money(server)
        let tamperedMAC = try await server.store.sealedAccounts().first { $0.userID == alice }?.mac

        Self.expectRefusedByAlarm(try await Self.transfer(server, from: "alice", to: "bob", amount: "400000.00", id: "big"), "alice's raised balance")
        #expect(try await Self.money(server) == before, "no money moved")
        #expect(try await server.store.sealedAccounts().first { $0.userID == alice }?.mac == tamperedMAC, "the tampered row was not re-sealed")
        #expect(Self.openAlarmKinds(server) == ["balance-changed"])
        // While the alarm is open no money moves at all, not even between untouched accounts.
        Self.expectRefusedByAlarm(try await Self.transfer(server, from: "bob", to: "carol", amount: "1.00", id: "unrelated"), "alarm state")
        #expect(try await Self.money(server) == before)
        let found = try await TamperTests.violations(server)
        #expect(found.contains { $0.kind == .balanceChanged && $0.userID == alice }, "verify still names it: \(found)")
    }

    @Test(arguments: TestStore.all) func transferIntoARaisedBalanceIsRefused(store: TestStore) async throws {
        let (server, _) = try await Self.ledger(store)
        defer { Task { await server.stop() } }
        let alice = try await Self.userID("alice", server)
        try await TamperTests.tamper(server, "UPDATE accounts SET balance_cents = balance_cents + 50000000 WHERE user_id = \(alice)")
        let before = try await Self.money(server)
        Self.expectRefusedByAlarm(try await Self.transfer(server, from: "bob", to: "alice", amount: "5.00", id: "into-raised"))
        #expect(try await Self.money(server) == before, "no money moved")
        #expect(Self.openAlarmKinds(server) == ["balance-changed"])
    }

    @Test(arguments: TestStore.all) func tamperedRecipientBalanceWithARestoredSealIsRefused(store: TestStore) async throws {
        let (server, _) = try await Self.ledger(store)
        defer { Task { await server.stop() } }
        // An older, genuinely sealed row of carol's account (0.00, before any transfer to her):
        // its seal is right, but her latest entry left her with 3.00.
        let carol = try await Self.userID("carol", server)
        let seal = LedgerSeal(storageKey: server.deployment.keys.storageKey)
        try await TamperTests.tamper(server, "UPDATE accounts SET balance_cents = 0, mac = \(TamperTests.hex(seal.accountMAC(userID: carol, balanceCents: 0))) WHERE user_id = \(carol)")
        let before = try await Self.money(server)
        Self.expectRefusedByAlarm(try await Self.transfer(server, from: "alice", to: "carol", amount: "1.00", id: "to-carol"))
        #expect(try await Self.money(server) == before, "no money moved")
        #expect(Self.openAlarmKinds(server) == ["balance-mismatch"])
    }

    @Test(arguments: TestStore.all) func tamperedBalanceIsNotShownAtLoginOrInBalance(store: TestStore) async throws {
        let (server, _) = try await Self.ledger(store)
        defer { Task { await server.stop() } }
        let bob = try await Self.userID("bob", server)
        try await TamperTests.tamper(server, "UPDATE accounts SET balance_cents = 99999999 WHERE user_id = \(bob)")
        do {
            try await server.withClient { try await $0.login(username: "bob", password: TestServer.password) }
            Issue.record("a login showed a tampered balance")
        } catch let error as IntegraClientError {
            #expect(error.code == ErrorCode.integrityAlarm.rawValue, "\(error)")
        }
        #expect(Self.openAlarmKinds(server) == ["balance-changed"])
    }

    // MARK: Entries, checkpoints and proofs

    @Test(arguments: TestStore.all) func forgedChainHashIsNeverSigned(store: TestStore) async throws {
        let (server, receipt) = try await Self.ledger(store)
        defer { Task { await server.stop() } }
        let anchorBefore = TamperTests.anchor(server)
        try await TamperTests.tamper(server, "UPDATE entries SET chain_hash = \(TamperTests.hex((0..<32).map { _ in UInt8.random(in: 0...255) })) WHERE position = 5")
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
        #expect(TamperTests.anchor(server) == anchorBefore, "the anchor did not move")
        #expect(!Self.openAlarmKinds(server).isEmpty)
    }

    @Test(arguments: TestStore.all) func rewrittenReceiptedEntryIsNeitherShownNorProven(store: TestStore) async throws {
        let (server, receipt) = try await Self.ledger(store)
        defer { Task { await server.stop() } }
        // Entry 3 (alice → bob 10.00, receipted) becomes 0.01 to carol; its chain hash is left.
        let carol = try await Self.userID("carol", server)
        try await TamperTests.tamper(server, "UPDATE entries SET amount_cents = 1, to_user = \(carol) WHERE position = \(receipt.position)")
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

    @Test func auditComparesTheEntryShownWithTheReceiptFieldByField() throws {
        let identity = Curve25519.Signing.PrivateKey()
        let entry = CanonicalEntry(
            position: 3, kind: 1, transferID: "rent", fromUserID: 1, from: "alice", toUserID: 2, to: "bob",
            amountCents: 1_000, fromBalanceAfterCents: 99_000, toBalanceAfterCents: 51_000, createdAtMs: 7)
        let previous = [UInt8](repeating: 9, count: 32)
        func chain(_ encoding: [UInt8]) -> [UInt8] { Array(SHA256.hash(data: previous + Array(SHA256.hash(data: encoding)))) }
        let receipt = try Receipt.sign(TransferConfirmation(
            transferID: "rent", position: 3, sender: "alice", recipient: "bob", amount: "10.00", balanceAfter: "990.00",
            createdAtMs: 7, isRetry: false, chainHash: chain(entry.encoding)), with: identity)
        func proof(showing shown: CanonicalEntry) throws -> InclusionProof {
            let payload = InclusionProof.checkpointPayload(position: 3, chainHash: receipt.chainHash, createdAtMs: 8)
            return InclusionProof(
                position: 3, digests: [], checkpointPosition: 3, checkpointChainHash: receipt.chainHash, checkpointCreatedAtMs: 8,
                checkpointSignature: Array(try identity.signature(for: payload)), entry: shown.encoding, previousChainHash: previous)
        }
        #expect(try proof(showing: entry).proves(receipt, identity: identity.publicKey))
        var other = entry
        other.amountCents = 1
        #expect(!(try proof(showing: other).proves(receipt, identity: identity.publicKey)), "another amount")
        other = entry
        other.to = "carol"
        #expect(!(try proof(showing: other).proves(receipt, identity: identity.publicKey)), "another recipient")
        other = entry
        other.toBalanceAfterCents += 1
        #expect(!(try proof(showing: other).proves(receipt, identity: identity.publicKey)), "content the receipt does not name still changes the chain hash")
    }

    @Test(arguments: TestStore.all) func entryEditedAndRechainedToTheHeadIsRefused(store: TestStore) async throws {
        let (server, _) = try await Self.ledger(store)
        defer { Task { await server.stop() } }
        try await TamperTests.tamper(server, "UPDATE entries SET amount_cents = 5 WHERE position = 4")
        try await TamperTests.rechain(server)
        let before = try await Self.money(server)
        Self.expectRefusedByAlarm(try await Self.transfer(server, from: "alice", to: "bob", amount: "1.00", id: "after-rechain"))
        #expect(try await Self.money(server) == before, "no money moved")
        #expect(await server.deployment.monitor.checkpoint() == nil)
        let found = try await TamperTests.violations(server)
        #expect(found.contains { $0.kind == .entryNotSealed }, "\(found)")
    }

    // MARK: Rollback and the anchor

    static let restoredTables = ["entries", "accounts", "users", "checkpoints"]

    /// Copies the tables that hold money, as a backup would (the server is stopped).
    static func backUp(_ server: TestServer) async throws {
        for table in Self.restoredTables {
            try await TamperTests.tamper(server, "CREATE TABLE backup_\(table) AS SELECT * FROM \(table)")
        }
        if server.database != nil { try await TamperTests.tamper(server, "CREATE TABLE backup_ledger_head AS SELECT * FROM ledger_head") }
    }

    /// Puts the backup back (the server is stopped): an older copy of the database restored.
    static func restore(_ server: TestServer) async throws {
        var tables = Self.restoredTables
        // MariaDB must keep the system account's id 0 as it is, not take it for "a new id".
        var statements = server.database == nil ? [] : ["SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_AUTO_VALUE_ON_ZERO')"]
        if server.database != nil { tables.append("ledger_head") }
        for table in ["entries", "checkpoints", "accounts", "ledger_head", "users"] where tables.contains(table) {
            statements.append("DELETE FROM \(table)")
        }
        for table in ["users", "accounts", "entries", "checkpoints", "ledger_head"] where tables.contains(table) {
            statements.append("INSERT INTO \(table) SELECT * FROM backup_\(table)")
        }
        try await TamperTests.tamper(server, statements)
    }

    static func restart(_ server: TestServer, configure: @escaping (inout ServerConfiguration) -> Void = { _ in }) async throws -> TestServer {
        await server.stop()
        return try await TestServer.start(database: server.database, directory: server.directory, configure: configure)
    }

    @Test(arguments: TestStore.all) func restoredOlderCopyStaysAnAlarmUntilAcknowledged(store: TestStore) async throws {
        let (first, _) = try await Self.ledger(store)
        await first.stop()
        try await Self.backUp(first)
        let fast: (inout ServerConfiguration) -> Void = { $0.checkpointIntervalMs = 50; $0.integrityCheckIntervalMs = 20 }
        let second = try await TestServer.start(database: first.database, directory: first.directory, configure: fast)
        let paid = try await Self.transfer(second, from: "alice", to: "carol", amount: "7.00", id: "receipted").get()
        #expect(paid.position == 6)
        // Signs now unless the background schedule (every 50 ms) already did; the anchor is checked below.
        _ = await second.deployment.monitor.checkpoint()
        await second.stop()
        let anchor = try #require(TamperTests.anchor(second))
        #expect(anchor.position == 6)

        try await Self.restore(second)
        let restarted = try await TestServer.start(database: first.database, directory: first.directory, configure: fast)
        defer { Task { await restarted.stop() } }
        #expect(Self.openAlarmKinds(restarted) == ["ledger-rolled-back"])
        let before = try await Self.money(restarted)
        Self.expectRefusedByAlarm(try await Self.transfer(restarted, from: "alice", to: "bob", amount: "1.00", id: "reuse-6"), "position 6 must not be handed out again")
        #expect(try await Self.money(restarted) == before, "no money moved, no position reused")
        // Checkpoints keep coming every 50 ms: none may overwrite the anchor.
        try await Task.sleep(for: .milliseconds(300))
        #expect(TamperTests.anchor(restarted) == anchor, "the anchor is never moved over a rollback")
        let found = try await TamperTests.violations(restarted)
        #expect(found.map(\.kind).contains(.historyRewritten), "\(found)")

        // An operator deals with it: the alarm stays until acknowledged, then traffic resumes.
        let alarm = try #require(restarted.deployment.monitor.alarms.open.first)
        _ = try await restarted.deployment.monitor.alarms.acknowledge(id: alarm.id, reason: "restored from backup on purpose", operatorName: "test", nowMs: WallClock.nowMs())
        await restarted.deployment.monitor.refreshAlarms()
        let resumed = try await Self.transfer(restarted, from: "alice", to: "bob", amount: "1.00", id: "after-ack").get()
        #expect(resumed.position == 6)
        await restarted.deployment.monitor.checkpoint()
        let replaced = try #require(TamperTests.anchor(restarted))
        #expect(replaced.position == 6 && replaced.chainHash == resumed.chainHash, "the anchor was replaced over the acknowledged rollback")
        restarted.deployment.server.auditTrail.flush()
        let trail = try String(contentsOf: restarted.directory.appendingPathComponent("audit"), encoding: .utf8, inFiles: "alarms-")
        #expect(trail.contains("\"acknowledged\"") && trail.contains("restored from backup on purpose"))
    }

    @Test(arguments: ["", "{\"position\":6,\"chainHa"]) func emptiedOrTruncatedAnchorRaisesTheAlarm(content: String) async throws {
        let (server, _) = try await Self.ledger(.sqlite)
        _ = try #require(await server.deployment.monitor.checkpoint())
        await server.stop()
        try SecretFile.write(Data(content.utf8), to: server.directory.appendingPathComponent(Checkpointer.anchorFileName).path)
        let restarted = try await TestServer.start(database: server.database, directory: server.directory)
        defer { Task { await restarted.stop() } }
        #expect(Self.openAlarmKinds(restarted) == ["anchor-unreadable"])
        let before = try await Self.money(restarted)
        Self.expectRefusedByAlarm(try await Self.transfer(restarted, from: "alice", to: "bob", amount: "1.00", id: "no-anchor"))
        #expect(try await Self.money(restarted) == before)
    }

    @Test func deletedAnchorRaisesTheAlarm() async throws {
        let (server, _) = try await Self.ledger(.sqlite)
        _ = try #require(await server.deployment.monitor.checkpoint())
        await server.stop()
        try FileManager.default.removeItem(at: server.directory.appendingPathComponent(Checkpointer.anchorFileName))
        let restarted = try await TestServer.start(database: server.database, directory: server.directory)
        defer { Task { await restarted.stop() } }
        #expect(Self.openAlarmKinds(restarted) == ["anchor-unreadable"])
    }

    @Test func alarmsOutliveARestart() async throws {
        let (server, _) = try await Self.ledger(.sqlite)
        let bob = try await Self.userID("bob", server)
        try await TamperTests.tamper(server, "UPDATE accounts SET balance_cents = 1 WHERE user_id = \(bob)")
        Self.expectRefusedByAlarm(try await Self.transfer(server, from: "bob", to: "carol", amount: "1.00", id: "x"))
        // The operator repairs the row by hand, then restarts without acknowledging.
        let seal = LedgerSeal(storageKey: server.deployment.keys.storageKey)
        try await TamperTests.tamper(server, "UPDATE accounts SET balance_cents = 50800, mac = \(TamperTests.hex(seal.accountMAC(userID: bob, balanceCents: 50_800))) WHERE user_id = \(bob)")
        let restarted = try await Self.restart(server)
        defer { Task { await restarted.stop() } }
        #expect(Self.openAlarmKinds(restarted) == ["balance-changed"], "an alarm is state, not a log line")
        Self.expectRefusedByAlarm(try await Self.transfer(restarted, from: "alice", to: "carol", amount: "1.00", id: "y"))
    }

    // MARK: Users

    @Test(arguments: TestStore.all, [false, true]) func restoredOldPasswordRowNeverLogsIn(store: TestStore, withVersion: Bool) async throws {
        let (server, _) = try await Self.ledger(store)
        defer { Task { await server.stop() } }
        let bob = try await Self.userID("bob", server)
        let old = try #require(try await server.store.sealedUsers().first { $0.id == bob })
        let newPassword = "a brand new passphrase"
        try await server.withClient { client in
            try await client.login(username: "bob", password: TestServer.password)
            try await client.changePassword(current: TestServer.password, new: newPassword)
        }
        var restore = "UPDATE users SET password_hash = '\(old.passwordHash)', mac = \(TamperTests.hex(old.mac ?? []))"
        if withVersion { restore += ", credential_version = \(old.credentialVersion)" }
        try await TamperTests.tamper(server, restore + " WHERE id = \(bob)")
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
        let found = try await TamperTests.violations(server)
        #expect(found.map(\.kind.rawValue) == [kind], "\(found)")
    }

    // MARK: Operators' slips

    @Test func echoModeRefusesARealDeploymentAndItsReceiptsNeverVerifyThere() async throws {
        let (server, _) = try await Self.ledger(.sqlite)
        await server.stop()
        let clientJSON = server.directory.appendingPathComponent("client.json")
        let before = try Data(contentsOf: clientJSON)
        await #expect(throws: ConfigurationError.self) {
            _ = try await TestServer.start(database: nil, directory: server.directory) { $0.echo = true }
        }
        #expect(try Data(contentsOf: clientJSON) == before, "client.json is untouched")

        let echo = try await TestServer.start(database: nil) { $0.echo = true }
        defer { Task { await echo.stop() } }
        let receipt = try await echo.withClient { client in
            try await client.login(username: "mallory", password: "anything at all")
            return try await client.transfer(to: "alice", amount: "1000000.00", transferID: "fake")
        }
        let real = try ClientConfiguration.load(from: clientJSON.path).stateMachineConfiguration().serverIdentityKey
        #expect(!Receipt.isValid(receipt, identity: real), "an echo receipt never verifies against the real deployment")
        #expect(!FileManager.default.fileExists(atPath: echo.directory.appendingPathComponent("identity.key").path), "echo keys live in memory only")
    }

    @Test func adminCommandsOnADirectoryWithoutADeploymentCreateNothing() throws {
        let missing = TemporaryDirectory.make().appendingPathComponent("typo")
        #expect(throws: DeploymentMissing.self) { _ = try DeploymentKeys.load(in: missing.path) }
        #expect(!FileManager.default.fileExists(atPath: missing.path))
        let empty = TemporaryDirectory.make()
        #expect(throws: DeploymentMissing.self) { _ = try DeploymentKeys.load(in: empty.path) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: empty.path).isEmpty)
    }

    @Test func symlinkedKeyFileIsRefusedAndItsTargetUntouched() async throws {
        let (server, _) = try await Self.ledger(.sqlite)
        await server.stop()
        let identity = server.directory.appendingPathComponent("identity.key")
        let target = TemporaryDirectory.make().appendingPathComponent("elsewhere.key")
        try FileManager.default.moveItem(at: identity, to: target)
        let targetBytes = try Data(contentsOf: target)
        try FileManager.default.createSymbolicLink(at: identity, withDestinationURL: target)
        await #expect(throws: (any Error).self) { _ = try await TestServer.start(database: nil, directory: server.directory) }
        #expect(try Data(contentsOf: target) == targetBytes)
    }

    @Test func plantedSymlinkIsReplacedNeverFollowed() async throws {
        let (server, _) = try await Self.ledger(.sqlite)
        await server.stop()
        let clientJSON = server.directory.appendingPathComponent("client.json")
        let victim = TemporaryDirectory.make().appendingPathComponent("victim.txt")
        try Data("precious".utf8).write(to: victim)
        try FileManager.default.removeItem(at: clientJSON)
        try FileManager.default.createSymbolicLink(at: clientJSON, withDestinationURL: victim)
        let restarted = try await TestServer.start(database: nil, directory: server.directory)
        defer { Task { await restarted.stop() } }
        #expect(try String(contentsOf: victim, encoding: .utf8) == "precious")
        let attributes = try FileManager.default.attributesOfItem(atPath: clientJSON.path)
        #expect(attributes[.type] as? FileAttributeType == .typeRegular)
    }

    @Test func dataDirectoryWritableByOthersIsRefused() async throws {
        let directory = TemporaryDirectory.make()
        chmod(directory.path, 0o777)
        await #expect(throws: ConfigurationError.self) { _ = try await TestServer.start(database: nil, directory: directory) }
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("identity.key").path))
    }
}

extension String {
    /// The concatenated contents of the files in `directory` whose names start with `prefix`.
    init(contentsOf directory: URL, encoding: String.Encoding, inFiles prefix: String) throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix(prefix) }.sorted()
        self = try names.map { try String(contentsOf: directory.appendingPathComponent($0), encoding: encoding) }.joined()
    }
}
