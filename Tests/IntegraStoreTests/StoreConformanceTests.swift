import Crypto
import Foundation
@testable import IntegraLedger
import IntegraVerifier
import IntegraSQLiteStore
@testable import IntegraServer
import IntegraTestSupport
import Testing

/// The same behaviour is required of every `LedgerStore`.
@Suite struct StoreConformanceTests {
    static let kinds = TestStore.all

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
        try await kind.withNewStore { store in
            let alice = try await Self.addUser("Alice", store: store)
            #expect(alice.username.canonical == "alice")
            let again = try await store.commit([WriteRequest(nonce: nil, operation: .createUser(username: try Username("ALICE"), passwordHash: "x"))], nowMs: 1)
            #expect(again == [.rejected(.usernameTaken)])
            #expect(try await store.user(named: Username("alice")) == alice)
            #expect(try await store.user(named: Username("system")) == nil, "the system account is not a customer")
        }
    }

    @Test(arguments: kinds)
    func transfersMoveMoneyAtomicallyAndConserveTheTotal(kind: TestStore) async throws {
        try await kind.withNewStore { store in
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
    }

    @Test(arguments: kinds)
    func retriedTransferIDIsAppliedOnceAcrossCommits(kind: TestStore) async throws {
        try await kind.withNewStore { store in
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
    }

    @Test(arguments: kinds)
    func nonceIsAcceptedOnceEvenAfterReopening(kind: TestStore) async throws {
        try await kind.withNewStorage { storage in
            try await withClosing(try await storage.open()) { store in
                let first = try await store.commit([WriteRequest(nonce: Self.nonce(1), operation: .recordNonce)], nowMs: 1)
                let sameBatch = try await store.commit([
                    WriteRequest(nonce: Self.nonce(2), operation: .recordNonce),
                    WriteRequest(nonce: Self.nonce(2), operation: .recordNonce),
                ], nowMs: 1)
                #expect(first == [.nonceRecorded])
                #expect(sameBatch == [.nonceRecorded, .rejected(.replayedNonce)])
            }
            try await withClosing(try await storage.open()) { reopened in
                let alice = try await Self.addUser("alice", store: reopened)
                _ = try await Self.addUser("bob", store: reopened)
                _ = try await Self.deposit("alice", cents: 100, store: reopened)
                let replay = try await reopened.commit([try Self.transfer(alice, to: "bob", cents: 10, id: "x", nonce: Self.nonce(1))], nowMs: 2)
                #expect(replay == [.rejected(.replayedNonce)])
                #expect(try await reopened.balance(ofUserID: alice.id) == 100, "a replayed transfer must not move money")
            }
        }
    }

    @Test(arguments: kinds)
    func pruningForgetsOnlyNoncesOlderThanTheCut(kind: TestStore) async throws {
        try await kind.withNewStore { store in
            _ = try await store.commit([
                WriteRequest(nonce: Self.nonce(1, timestampMs: 100), operation: .recordNonce),
                WriteRequest(nonce: Self.nonce(2, timestampMs: 300), operation: .recordNonce),
            ], nowMs: 1)
            #expect(try await store.pruneNonces(olderThanMs: 200) == 1)
            // A replayed frame carries its original timestamp, so its nonce comes with the same key.
            #expect(try await store.commit([WriteRequest(nonce: Self.nonce(2, timestampMs: 300), operation: .recordNonce)], nowMs: 1) == [.rejected(.replayedNonce)])
            #expect(try await store.commit([WriteRequest(nonce: Self.nonce(1, timestampMs: 100), operation: .recordNonce)], nowMs: 1) == [.nonceRecorded])
        }
    }

    @Test(arguments: kinds)
    func settingsAreRecordedAndTheWidestWindowOnlyGrows(kind: TestStore) async throws {
        try await kind.withNewStore { store async throws in
            #expect(try await store.setting(.maximumReplayWindowMs) == nil)
            #expect(try await store.record(.maximumReplayWindowMs, 3_600_000, onlyRaise: true) == 3_600_000)
            #expect(try await store.record(.maximumReplayWindowMs, 120_000, onlyRaise: true) == 3_600_000, "a narrower window never shortens how long nonces are kept")
            #expect(try await store.record(.bcryptCost, 12, onlyRaise: false) == 12)
            #expect(try await store.record(.bcryptCost, 10, onlyRaise: false) == 10)
            #expect(try await store.setting(.bcryptCost) == 10)
        }
    }

    @Test(arguments: kinds)
    func lookalikeNamesAreTaken(kind: TestStore) async throws {
        try await kind.withNewStore { store in
            _ = try await Self.addUser("alice", store: store)
            for lookalike in ["ａｌｉｃｅ", "alıce", "ALICE"] {
                let outcome = try await store.commit([WriteRequest(nonce: nil, operation: .createUser(username: try Username(registering: lookalike), passwordHash: "!"))], nowMs: 1)
                #expect(outcome == [.rejected(.usernameTaken)], "\(lookalike)")
            }
            #expect(try await store.user(named: Username("ａｌｉｃｅ"))?.username.canonical == "alice", "looked up by its canonical form")
        }
    }

    @Test(arguments: kinds)
    func historyIsNewestFirstAndPaged(kind: TestStore) async throws {
        try await kind.withNewStore { store in
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
    }

    @Test(arguments: kinds)
    func deploymentFingerprintIsBoundOnce(kind: TestStore) async throws {
        try await kind.withNewStore { store in
            try await store.bindDeployment(fingerprint: Array(repeating: 1, count: 32))
            try await store.bindDeployment(fingerprint: Array(repeating: 1, count: 32))
            await #expect(throws: LedgerError.deploymentMismatch) { try await store.bindDeployment(fingerprint: Array(repeating: 2, count: 32)) }
            #expect(try await store.schemaVersion() == 8)
        }
    }

    /// verify's page reader gives the rows `sealedEntries` gives, whatever the page's size.
    @Test(arguments: kinds)
    func sealedEntryReaderReadsWhatSealedEntriesReads(kind: TestStore) async throws {
        try await kind.withNewStore { store in
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
    }

    @Test(arguments: kinds)
    func passwordHashChangesAreStored(kind: TestStore) async throws {
        try await kind.withNewStore { store in
            let alice = try await Self.addUser("alice", store: store)
            #expect(try await store.commit([WriteRequest(nonce: nil, operation: .changePassword(userID: alice.id, username: alice.username, passwordHash: "new"))], nowMs: 1) == [.passwordChanged])
            let changed = try #require(try await store.user(named: Username("alice")))
            #expect(changed.passwordHash == "new")
            #expect(changed.credentialVersion == 1)
            #expect(changed.violation == nil, "the row and the ledger's credential entry agree")
        }
    }
}

@Suite struct SQLiteStoreTests {
    @Test func closedStoreReportsUnavailableInsteadOfCrashing() async throws {
        try await TestStore.sqlite.withNewStorage { storage in
            let store = try await storage.open()
            await store.close()
            await #expect(throws: LedgerError.self) { _ = try await store.balance(ofUserID: 1) }
        }
    }

    @Test func aClosedStoreHasNoConnectionLeftSoItsWALFileIsGone() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.path + "/s.sqlite"
            let store = try await SQLiteLedgerStore.open(path: path, seal: testSeal, signer: testSigner)
            _ = try await StoreConformanceTests.addUser("alice", store: store)
            #expect(FileManager.default.fileExists(atPath: path + "-wal"))
            await store.close()
            // The store object is still alive here: only closing every connection, the background
            // checkpointer's included, removes the write-ahead log.
            #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
            withExtendedLifetime(store) {}
        }
    }

    @Test func schemaIsMigratedToTheLatestVersion() async throws {
        try await withTemporaryDirectory { directory in
            try await withClosing(try await SQLiteLedgerStore.open(path: directory.path + "/s.sqlite", seal: testSeal, signer: testSigner)) { store async throws in
                #expect(try await store.schemaVersion() == 8)
            }
        }
    }
}

@Suite struct GroupCommitterTests {
    /// Submits 200 requests at once (100 nonces, each twice); returns the outcomes.
    static func submitConcurrently(to committer: GroupCommitter) async -> [WriteOutcome] {
        await withTaskGroup(of: WriteOutcome.self) { group in
            for index in 0..<200 {
                group.addTask { await committer.submit(WriteRequest(nonce: StoreConformanceTests.nonce(UInt8(index % 100)), operation: .recordNonce)) }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
    }

    @Test func concurrentSubmissionsShareCommitsAndKeepTheirOwnOutcomes() async throws {
        try await TestStore.sqlite.withNewStore { store async throws in
            let counting = CountingStore(base: store)
            let committer = GroupCommitter(store: counting, maximumBatchSize: 64, clock: { 1 })
            let outcomes = await withTaskGroup(of: [WriteOutcome].self) { group in
                group.addTask { await committer.run(); return [] }
                let outcomes = await Self.submitConcurrently(to: committer)
                committer.stop()
                return outcomes
            }
            #expect(outcomes.filter { $0 == .nonceRecorded }.count == 100)
            #expect(outcomes.filter { $0 == .rejected(.replayedNonce) }.count == 100)
            let commits = await counting.commits.value
            #expect(commits < 200, "requests were not grouped: \(commits) commits")
        }
    }

    @Test func aStoppedCommitterRefusesNewRequests() async throws {
        try await TestStore.sqlite.withNewStore { store async throws in
            let committer = GroupCommitter(store: store, maximumBatchSize: 64, clock: { 1 })
            committer.stop()
            await committer.run()
            #expect(await committer.submit(WriteRequest(nonce: StoreConformanceTests.nonce(1), operation: .recordNonce)) == .rejected(.overloaded))
        }
    }
}
