import Crypto
import Foundation
@testable import IntegraLedger
import IntegraVerifier
import IntegraSQLiteStore
@testable import IntegraServer
import Testing
#if MariaDB
@testable import IntegraMariaDBStore
#endif

/// A store under test, opened on fresh storage; `reopen` opens the same storage again.
struct StoreUnderTest: CustomStringConvertible, Sendable {
    let description: String
    let open: @Sendable () async throws -> any LedgerStore

    static func sqlite() -> StoreUnderTest {
        let path = TemporaryDirectory.make().path + "/ledger.sqlite"
        return StoreUnderTest(description: "sqlite") { try await SQLiteLedgerStore.open(path: path, seal: testSeal) }
    }

    #if MariaDB
    static func mariadb() -> StoreUnderTest {
        let location = Result { try TestStore.freshMariaDB() }
        return StoreUnderTest(description: "mariadb") {
            try await MariaDBLedgerStore.open(TestStore.configuration(try location.get()), seal: testSeal, poolSize: 4)
        }
    }

    #endif
}

/// The row seal the store tests use.
let testSeal = LedgerSeal(storageKey: SymmetricKey(data: Array(repeating: UInt8(5), count: 32)))

enum TemporaryDirectory {
    static func make() -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("integra-test-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// The same behaviour is required of every `LedgerStore`.
@Suite struct StoreConformanceTests {
    static let kinds = TestStore.all

    static func store(_ kind: TestStore) -> StoreUnderTest {
        switch kind {
        case .sqlite:
            return .sqlite()
        case .mariadb:
            #if MariaDB
            return .mariadb()
            #else
            preconditionFailure("MariaDB is not in this build")
            #endif
        }
    }

    static func addUser(_ name: String, store: any LedgerStore) async throws -> UserRecord {
        let outcome = try await store.commit([WriteRequest(nonce: nil, operation: .createUser(username: try Username(name), passwordHash: "hash-\(name)"))], nowMs: 1)
        guard case .userCreated(let user) = outcome[0] else { throw TestFailure("user not created: \(outcome)") }
        return user
    }

    static func deposit(_ name: String, cents: Int64, id: String = UUID().uuidString, store: any LedgerStore) async throws -> WriteOutcome {
        let intent = DepositIntent(transferID: try TransferID(id), recipient: try Username(name), amount: Amount(cents: cents))
        return try await store.commit([WriteRequest(nonce: nil, operation: .deposit(intent))], nowMs: 2)[0]
    }

    static func transfer(_ sender: UserRecord, to: String, cents: Int64, id: String, nonce: NonceRecord? = nil) throws -> WriteRequest {
        WriteRequest(nonce: nonce, operation: .transfer(TransferIntent(
            senderID: sender.id, sender: sender.username, transferID: try TransferID(id), recipient: try Username(to), amount: Amount(cents: cents))))
    }

    static func nonce(_ byte: UInt8, timestampMs: Int64 = 10_000) -> NonceRecord {
        NonceRecord(bytes: Array(repeating: byte, count: 16), timestampMs: timestampMs)
    }

    @Test(arguments: kinds)
    func usernamesAreUniqueWhateverTheirCase(kind: TestStore) async throws {
        let store = try await Self.store(kind).open()
        defer { Task { await store.close() } }
        let alice = try await Self.addUser("Alice", store: store)
        #expect(alice.username.canonical == "alice")
        let again = try await store.commit([WriteRequest(nonce: nil, operation: .createUser(username: try Username("ALICE"), passwordHash: "x"))], nowMs: 1)
        #expect(again == [.rejected(.usernameTaken)])
        #expect(try await store.user(named: Username("alice")) == alice)
        #expect(try await store.user(named: Username("system")) == nil, "the system account is not a customer")
    }

    @Test(arguments: kinds)
    func transfersMoveMoneyAtomicallyAndConserveTheTotal(kind: TestStore) async throws {
        let store = try await Self.store(kind).open()
        defer { Task { await store.close() } }
        let alice = try await Self.addUser("alice", store: store)
        let bob = try await Self.addUser("bob", store: store)
        _ = try await Self.deposit("alice", cents: 1_000, store: store)
        let outcomes = try await store.commit([
            try Self.transfer(alice, to: "bob", cents: 700, id: "a"),
            try Self.transfer(alice, to: "bob", cents: 400, id: "b"),
            try Self.transfer(bob, to: "alice", cents: 100, id: "c"),
            try Self.transfer(alice, to: "nobody", cents: 1, id: "d"),
        ], nowMs: 3)
        #expect(outcomes[1] == .rejected(.insufficientFunds))
        #expect(outcomes[3] == .rejected(.unknownRecipient))
        #expect(try await store.balance(ofUserID: alice.id) == 400)
        #expect(try await store.balance(ofUserID: bob.id) == 600)
        let summary = try await store.summary()
        #expect(summary.customerBalanceCents == 1_000 && summary.depositedCents == 1_000 && summary.systemBalanceCents == -1_000)
        #expect(summary.entries == 3)
    }

    @Test(arguments: kinds)
    func retriedTransferIDIsAppliedOnceAcrossCommits(kind: TestStore) async throws {
        let store = try await Self.store(kind).open()
        defer { Task { await store.close() } }
        let alice = try await Self.addUser("alice", store: store)
        _ = try await Self.addUser("bob", store: store)
        _ = try await Self.deposit("alice", cents: 1_000, store: store)
        let first = try await store.commit([try Self.transfer(alice, to: "bob", cents: 300, id: "same")], nowMs: 3)
        let retry = try await store.commit([try Self.transfer(alice, to: "bob", cents: 300, id: "same")], nowMs: 4)
        let conflict = try await store.commit([try Self.transfer(alice, to: "bob", cents: 301, id: "same")], nowMs: 5)
        guard case .transferred(let original) = first[0], case .transferred(let repeated) = retry[0] else {
            throw TestFailure("transfers not answered: \(first) \(retry)")
        }
        #expect(!original.isRetry && repeated.isRetry)
        #expect(repeated.entry == original.entry)
        #expect(conflict == [.rejected(.transferIDConflict)])
        #expect(try await store.balance(ofUserID: alice.id) == 700)
    }

    @Test(arguments: kinds)
    func nonceIsAcceptedOnceEvenAfterReopening(kind: TestStore) async throws {
        let subject = Self.store(kind)
        let store = try await subject.open()
        let first = try await store.commit([WriteRequest(nonce: Self.nonce(1), operation: .recordNonce)], nowMs: 1)
        let sameBatch = try await store.commit([
            WriteRequest(nonce: Self.nonce(2), operation: .recordNonce),
            WriteRequest(nonce: Self.nonce(2), operation: .recordNonce),
        ], nowMs: 1)
        #expect(first == [.nonceRecorded])
        #expect(sameBatch == [.nonceRecorded, .rejected(.replayedNonce)])
        await store.close()

        let reopened = try await subject.open()
        defer { Task { await reopened.close() } }
        let alice = try await Self.addUser("alice", store: reopened)
        _ = try await Self.addUser("bob", store: reopened)
        _ = try await Self.deposit("alice", cents: 100, store: reopened)
        let replay = try await reopened.commit([try Self.transfer(alice, to: "bob", cents: 10, id: "x", nonce: Self.nonce(1))], nowMs: 2)
        #expect(replay == [.rejected(.replayedNonce)])
        #expect(try await reopened.balance(ofUserID: alice.id) == 100, "a replayed transfer must not move money")
    }

    @Test(arguments: kinds)
    func pruningForgetsOnlyNoncesOlderThanTheCut(kind: TestStore) async throws {
        let store = try await Self.store(kind).open()
        defer { Task { await store.close() } }
        _ = try await store.commit([
            WriteRequest(nonce: Self.nonce(1, timestampMs: 100), operation: .recordNonce),
            WriteRequest(nonce: Self.nonce(2, timestampMs: 300), operation: .recordNonce),
        ], nowMs: 1)
        #expect(try await store.pruneNonces(olderThanMs: 200) == 1)
        // A replayed frame carries its original timestamp, so its nonce comes with the same key.
        #expect(try await store.commit([WriteRequest(nonce: Self.nonce(2, timestampMs: 300), operation: .recordNonce)], nowMs: 1) == [.rejected(.replayedNonce)])
        #expect(try await store.commit([WriteRequest(nonce: Self.nonce(1, timestampMs: 100), operation: .recordNonce)], nowMs: 1) == [.nonceRecorded])
    }

    @Test(arguments: kinds)
    func settingsAreRecordedAndTheWidestWindowOnlyGrows(kind: TestStore) async throws {
        let store = try await Self.store(kind).open()
        defer { Task { await store.close() } }
        #expect(try await store.setting(.maximumReplayWindowMs) == nil)
        #expect(try await store.record(.maximumReplayWindowMs, 3_600_000, onlyRaise: true) == 3_600_000)
        #expect(try await store.record(.maximumReplayWindowMs, 120_000, onlyRaise: true) == 3_600_000, "a narrower window never shortens how long nonces are kept")
        #expect(try await store.record(.bcryptCost, 12, onlyRaise: false) == 12)
        #expect(try await store.record(.bcryptCost, 10, onlyRaise: false) == 10)
        #expect(try await store.setting(.bcryptCost) == 10)
    }

    @Test(arguments: kinds)
    func lookalikeNamesAreTaken(kind: TestStore) async throws {
        let store = try await Self.store(kind).open()
        defer { Task { await store.close() } }
        _ = try await Self.addUser("alice", store: store)
        for lookalike in ["ａｌｉｃｅ", "alıce", "ALICE"] {
            let outcome = try await store.commit([WriteRequest(nonce: nil, operation: .createUser(username: try Username(registering: lookalike), passwordHash: "!"))], nowMs: 1)
            #expect(outcome == [.rejected(.usernameTaken)], "\(lookalike)")
        }
        #expect(try await store.user(named: Username("ａｌｉｃｅ"))?.username.canonical == "alice", "looked up by its canonical form")
    }

    @Test(arguments: kinds)
    func historyIsNewestFirstAndPaged(kind: TestStore) async throws {
        let store = try await Self.store(kind).open()
        defer { Task { await store.close() } }
        let alice = try await Self.addUser("alice", store: store)
        let bob = try await Self.addUser("bob", store: store)
        _ = try await Self.deposit("alice", cents: 10_000, store: store)
        _ = try await Self.deposit("bob", cents: 10_000, store: store)
        for index in 0..<10 {
            let sender = index.isMultiple(of: 3) ? bob : alice
            let outcome = try await store.commit([try Self.transfer(sender, to: sender.id == alice.id ? "bob" : "alice", cents: 10, id: "t\(index)")], nowMs: Int64(10 + index))
            guard case .transferred = outcome[0] else { throw TestFailure("transfer \(index) refused: \(outcome)") }
        }
        let firstPage = try await store.history(ofUserID: alice.id, beforePosition: nil, limit: 4)
        #expect(firstPage.count == 4)
        #expect(firstPage.map(\.position) == firstPage.map(\.position).sorted(by: >))
        let rest = try await store.history(ofUserID: alice.id, beforePosition: firstPage.last!.position, limit: 100)
        #expect(rest.count == 7)
        #expect(rest.last?.kind == .deposit)
        #expect(Set((firstPage + rest).map(\.position)).count == 11)
        let bobs = try await store.history(ofUserID: bob.id, beforePosition: nil, limit: 100)
        #expect(bobs.count == 11)
        #expect(bobs.allSatisfy { $0.fromUserID == bob.id || $0.toUserID == bob.id })
    }

    @Test(arguments: kinds)
    func deploymentFingerprintIsBoundOnce(kind: TestStore) async throws {
        let store = try await Self.store(kind).open()
        defer { Task { await store.close() } }
        try await store.bindDeployment(fingerprint: Array(repeating: 1, count: 32))
        try await store.bindDeployment(fingerprint: Array(repeating: 1, count: 32))
        await #expect(throws: LedgerError.deploymentMismatch) { try await store.bindDeployment(fingerprint: Array(repeating: 2, count: 32)) }
        #expect(try await store.schemaVersion() == 7)
    }

    /// verify's page reader gives the rows `sealedEntries` gives, whatever the page's size.
    @Test(arguments: kinds)
    func sealedEntryReaderReadsWhatSealedEntriesReads(kind: TestStore) async throws {
        let store = try await Self.store(kind).open()
        defer { Task { await store.close() } }
        let alice = try await Self.addUser("alice", store: store)
        let bob = try await Self.addUser("b\u{F6}b", store: store)
        _ = try await Self.deposit("alice", cents: 10_000, store: store)
        _ = try await Self.deposit("b\u{F6}b", cents: 10_000, store: store)
        let carol = try await Self.addUser("carol", store: store)
        for index in 0..<12 {
            let (sender, recipient) = [(alice, "b\u{F6}b"), (bob, "carol"), (carol, "alice")][index % 3]
            _ = try await store.commit([try Self.transfer(sender, to: recipient, cents: 10, id: "t\(index)")], nowMs: Int64(10 + index))
        }
        let expected = try await store.sealedEntries(afterPosition: 0, limit: 1_000)
        #expect(expected.count == 14)
        for page in [SealedEntryPage(capacity: 1), SealedEntryPage(capacity: 5), SealedEntryPage(capacity: 1_000), SealedEntryPage(capacity: 1_000, maximumStringBytes: 20)] {
            let reader = try await store.makeSealedEntryReader()
            var read: [SealedEntry] = []
            var after: Int64 = 0
            while read.count <= expected.count {
                try await reader.read(afterPosition: after, into: page)
                guard let last = page.lastPosition else { break }
                read += (0..<page.count).map(page.sealedEntry(at:))
                after = last
            }
            #expect(read.count == expected.count, "page of \(page.capacity)")
            for (one, other) in zip(read, expected) {
                #expect(one.entry == other.entry && one.chainHash == other.chainHash && one.mac == other.mac)
            }
        }
    }

    @Test(arguments: kinds)
    func passwordHashChangesAreStored(kind: TestStore) async throws {
        let store = try await Self.store(kind).open()
        defer { Task { await store.close() } }
        let alice = try await Self.addUser("alice", store: store)
        #expect(try await store.commit([WriteRequest(nonce: nil, operation: .changePassword(userID: alice.id, username: alice.username, passwordHash: "new"))], nowMs: 1) == [.passwordChanged])
        let changed = try #require(try await store.user(named: Username("alice")))
        #expect(changed.passwordHash == "new")
        #expect(changed.credentialVersion == 1)
        #expect(changed.violation == nil, "the row and the ledger's credential entry agree")
    }
}

@Suite struct SQLiteStoreTests {
    @Test func closedStoreReportsUnavailableInsteadOfCrashing() async throws {
        let store = try await StoreUnderTest.sqlite().open()
        await store.close()
        await #expect(throws: LedgerError.self) { _ = try await store.balance(ofUserID: 1) }
    }

    @Test func schemaIsMigratedToTheLatestVersion() async throws {
        let store = try await SQLiteLedgerStore.open(path: TemporaryDirectory.make().path + "/s.sqlite", seal: testSeal)
        defer { Task { await store.close() } }
        #expect(try await store.schemaVersion() == 7)
    }
}

@Suite struct GroupCommitterTests {
    @Test func concurrentSubmissionsShareCommitsAndKeepTheirOwnOutcomes() async throws {
        let store = try await StoreUnderTest.sqlite().open()
        defer { Task { await store.close() } }
        let counting = CountingStore(base: store)
        let committer = GroupCommitter(store: counting, maximumBatchSize: 64, clock: { 1 })
        let outcomes = await withTaskGroup(of: WriteOutcome.self) { group in
            for index in 0..<200 {
                group.addTask { await committer.submit(WriteRequest(nonce: StoreConformanceTests.nonce(UInt8(index % 100)), operation: .recordNonce)) }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 == .nonceRecorded }.count == 100)
        #expect(outcomes.filter { $0 == .rejected(.replayedNonce) }.count == 100)
        let commits = await counting.commits.value
        #expect(commits < 200, "requests were not grouped: \(commits) commits")
    }
}

/// Counts how many store transactions were used.
final class CountingStore: LedgerStore {
    let base: any LedgerStore
    let commits = Counter()

    init(base: any LedgerStore) { self.base = base }

    func commit(_ requests: [WriteRequest], nowMs: Int64) async throws(LedgerError) -> [WriteOutcome] {
        await self.commits.increment()
        return try await self.base.commit(requests, nowMs: nowMs)
    }
    func user(named username: Username) async throws(LedgerError) -> UserRecord? { try await self.base.user(named: username) }
    func account(ofUserID userID: Int64) async throws(LedgerError) -> AccountEvidence? { try await self.base.account(ofUserID: userID) }
    func sealedHistory(ofUserID userID: Int64, beforePosition: Int64?, limit: Int) async throws(LedgerError) -> [EntryEvidence] {
        try await self.base.sealedHistory(ofUserID: userID, beforePosition: beforePosition, limit: limit)
    }
    func entry(at position: Int64) async throws(LedgerError) -> EntryEvidence? { try await self.base.entry(at: position) }
    func recordAlarm(_ alarm: AlarmRecord) async throws(LedgerError) { try await self.base.recordAlarm(alarm) }
    func alarms(limit: Int) async throws(LedgerError) -> [SealedAlarm] { try await self.base.alarms(limit: limit) }
    func forgetVerifiedRows() async { await self.base.forgetVerifiedRows() }
    func rememberVerified(latestPositions: [(userID: Int64, position: Int64)], firstMissingPosition: Int64?) async {
        await self.base.rememberVerified(latestPositions: latestPositions, firstMissingPosition: firstMissingPosition)
    }
    func pruneNonces(olderThanMs: Int64) async throws(LedgerError) -> Int { try await self.base.pruneNonces(olderThanMs: olderThanMs) }
    func setting(_ setting: Setting) async throws(LedgerError) -> Int64? { try await self.base.setting(setting) }
    func record(_ setting: Setting, _ value: Int64, onlyRaise: Bool) async throws(LedgerError) -> Int64 { try await self.base.record(setting, value, onlyRaise: onlyRaise) }
    func summary() async throws(LedgerError) -> LedgerSummary { try await self.base.summary() }
    func schemaVersion() async throws(LedgerError) -> Int64 { try await self.base.schemaVersion() }
    func sealedEntries(afterPosition: Int64, limit: Int) async throws(LedgerError) -> [SealedEntry] { try await self.base.sealedEntries(afterPosition: afterPosition, limit: limit) }
    func sealedAccounts() async throws(LedgerError) -> [SealedAccount] { try await self.base.sealedAccounts() }
    func head() async throws(LedgerError) -> (position: Int64, chainHash: [UInt8]) { try await self.base.head() }
    func recordCheckpoint(_ checkpoint: LedgerCheckpoint) async throws(LedgerError) { try await self.base.recordCheckpoint(checkpoint) }
    func checkpoints() async throws(LedgerError) -> [LedgerCheckpoint] { try await self.base.checkpoints() }
    func sealedUsers() async throws(LedgerError) -> [SealedUser] { try await self.base.sealedUsers() }
    func bindDeployment(fingerprint: [UInt8]) async throws(LedgerError) { try await self.base.bindDeployment(fingerprint: fingerprint) }
    func close() async { await self.base.close() }
}

actor Counter {
    var value = 0
    func increment() { self.value += 1 }
}
