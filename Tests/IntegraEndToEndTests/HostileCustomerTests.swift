import Crypto
import Foundation
import IntegraClient
@testable import IntegraLedger
@testable import IntegraProtocol
@testable import IntegraServer
import IntegraStoreFactory
import IntegraTestSupport
import NIOCore
import Testing

/// A customer who holds `client.json` and an account of their own, and sends whatever hurts
/// others most: names that expand, key shares that don't contribute, lockout storms, password
/// guesses on an open session, lookalike names, probes for names, frames replayed after the
/// server's window changed. Each attack runs against a real server over its real socket.
@Suite struct HostileCustomerTests {
    static func code(_ body: () async throws -> Void) async -> UInt16? {
        do {
            try await body()
            return nil
        } catch let error as IntegraClientError {
            return error.code
        } catch {
            return nil
        }
    }

    /// Characters that NFC or NFKC expand (several bytes each once normalised).
    static let expandingCharacters = ["\u{0F73}", "\u{0F75}", "\u{0F81}", "\u{FB2C}", "\u{1D15E}", "\u{0390}", "\u{FDFA}", "\u{3300}"]

    @Test(arguments: expandingCharacters) func namesThatExpandAreRefusedAtRegistration(character: String) async throws {
        try await withTestServer { server async throws in
            let name = "a" + String(repeating: character, count: 66)
            let code = await Self.code {
                _ = try await server.withClient { try await $0.register(username: name, password: "a long enough password") }
            }
            // Longer than the field's 200 bytes as typed: the frame itself is malformed.
            let expected = name.utf8.count > FieldLimits.usernameBytes ? ErrorCode.malformedMessage : .invalidUsername
            #expect(code == expected.rawValue)
        }
    }

    /// Accounts whose stored names break today's rules (kept from earlier rules, or put there by
    /// a database writer) must never make an answer trap: 73 transfers between two names of 397
    /// bytes each, then a history page of 100 is answered within a frame, and says where to go on.
    @Test(arguments: TestStore.all) func storedNamesThatExpandNeverStopTheServer(store: TestStore) async throws {
        try await withTestServer(store) { server in
            var users: [UserRecord] = []
            for first in ["a", "b"] {
                let stored = Username(trustedCanonical: (first + String(repeating: "\u{0F73}", count: 66)).precomposedStringWithCanonicalMapping)
                #expect(stored.canonical.utf8.count > 390)
                let outcome = try await server.store.commit([WriteRequest(nonce: nil, operation: .createUser(username: stored, passwordHash: "!"))], nowMs: 1)
                guard case .userCreated(let user) = outcome[0] else { throw TestFailure("\(outcome)") }
                users.append(user)
                let deposit = DepositIntent(transferID: TransferID(trusted: "d-\(first)"), recipient: stored, amount: Amount(cents: 100))
                _ = try await server.store.commit([WriteRequest(nonce: nil, operation: .deposit(deposit))], nowMs: 1)
            }
            for index in 0..<73 {
                let intent = TransferIntent(
                    senderID: users[index % 2].id, sender: users[index % 2].username, transferID: TransferID(trusted: "x\(index)"),
                    recipient: users[(index + 1) % 2].username, amount: Amount(cents: 1))
                let outcome = try await server.store.commit([WriteRequest(nonce: nil, operation: .transfer(intent))], nowMs: 1)
                guard case .transferred = outcome[0] else { throw TestFailure("\(outcome)") }
            }
            let service = server.deployment.server.service
            let session = SessionIdentity(userID: users[0].id, username: users[0].username.canonical, credentialVersion: 0)
            let result = await service.perform(.history(session, beforePosition: nil, limit: 100), context: RequestContext(nonce: .random(), timestampMs: server.clock.nowMs()))
            guard case .reply(let page) = result, case .historyPage(let entries, let nextBefore) = page else { throw TestFailure("\(result)") }
            #expect(!entries.isEmpty && entries.count < 75 && nextBefore != nil, "a page stops before the frame limit and says where to continue")
            var machine = ServerConnectionStateMachine(configuration: server.deployment.server.machineConfiguration, random: SeededRandomSource(seed: 1))
            var channel = FrameChannel(connectionID: ConnectionID(bytes: Array(repeating: 1, count: 16)), sendDirection: .serverToClient, keys: server.deployment.server.machineConfiguration.preLoginKeys, replayWindowMs: 120_000)
            #expect(try channel.seal(.historyPage, nowMs: 0, body: page.encodeBody).readableBytes <= FrameFormat.defaultMaximumFrameBytes)
            _ = machine.connectionOpened(nowMs: 0)
            // And the server keeps serving.
            try await server.withClient { _ = try await $0.register(username: "carol", password: "a long enough password") }
        }
    }

    @Test func loginWithALowOrderKeyShareIsRefusedAndClosed() async throws {
        try await withTestServer { server in
            try await server.addCustomer("alice", cents: 0)
            let code = try await server.withRawSession { session in
                try await session.send(.login(username: "alice", password: TestServer.password, ephemeralPublicKey: Array(repeating: 0, count: 32), deviceToken: nil))
                return try await session.errorCodeThenClose()
            }
            #expect(code == .malformedMessage)
        }
    }

    @Test func theOwnerLogsInWithADeviceTokenDuringALockoutStorm() async throws {
        // The server's clock stands still: no backoff of the storm can pass while its 100
        // password checks run, however slow the machine.
        try await withTestServer(configure: { $0.clock = ManualClock().wallClock }) { server in
            try await server.addCustomer("carol", cents: 0)
            // Carol logged in once before, and her client kept the device token.
            let token = try await server.withClient { try await $0.login(username: "carol", password: TestServer.password).deviceToken }
            #expect(token != nil)
            // A storm of wrong passwords for carol, from the same address as hers.
            await withTaskGroup(of: Void.self) { group in
                for index in 0..<100 {
                    group.addTask {
                        _ = await Self.code { _ = try await server.withClient { try await $0.login(username: "carol", password: "wrong password \(index)") } }
                    }
                }
            }
            let withoutToken = await Self.code { _ = try await server.withClient { try await $0.login(username: "carol", password: TestServer.password) } }
            #expect(withoutToken == ErrorCode.tooManyAttempts.rawValue, "the storm locked out clients without a token")
            let login = try await server.withClient { try await $0.login(username: "carol", password: TestServer.password, deviceToken: token) }
            #expect(login.username == "carol", "the owner's token is throttled by itself alone")
            // A token for another account, or a forged one, is no shield.
            var forged = token!
            forged[forged.count - 1] ^= 1
            let forgedCode = await Self.code { _ = try await server.withClient { try await $0.login(username: "carol", password: TestServer.password, deviceToken: forged) } }
            #expect(forgedCode == ErrorCode.tooManyAttempts.rawValue)
        }
    }

    @Test func loginsAbandonedWhileTheirPasswordIsCheckedLeaveNoAccountLockedOut() async throws {
        // A real bcrypt cost, so each check is still running when its connection closes, and a
        // pending limit below the free failures, so the abandoned guesses themselves lock nothing.
        try await withTestServer(configure: { $0.bcryptCost = 12; $0.loginThrottle.maximumPendingChecksPerAccount = 3 }) { server in
            try await server.addCustomer("carol", cents: 0)
            func counted() -> (waiting: Int, failed: Int) {
                server.deployment.server.throttleState { ($0.accounts["carol"]?.inFlight ?? 0, $0.accounts["carol"]?.failuresInWindow ?? 0) }
            }
            func waitUntil(_ condition: () -> Bool) async throws {
                let deadline = ContinuousClock.now + .seconds(60)
                while !condition() && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            }
            for index in 0..<3 {
                try await server.withRawSession { session in
                    let key = Curve25519.KeyAgreement.PrivateKey().publicKey.rawRepresentation.map { $0 }
                    try await session.send(.login(username: "carol", password: "guess \(index)", ephemeralPublicKey: key, deviceToken: nil))
                    // The server is checking this guess: close without waiting for the answer.
                    try await waitUntil { counted().waiting + counted().failed == index + 1 }
                }
            }
            try await waitUntil { counted().waiting == 0 }
            #expect(counted().waiting == 0, "abandoned password checks still count as waiting")
            #expect(counted().failed == 3, "each abandoned guess counts as a failure")
            let login = try await server.withClient { try await $0.login(username: "carol", password: TestServer.password) }
            #expect(login.username == "carol")
        }
    }

    @Test func wrongCurrentPasswordsCloseTheSessionAndCountInTheThrottle() async throws {
        try await withTestServer { server in
            try await server.addCustomer("alice", cents: 0)
            try await server.withClient { client in
                try await client.login(username: "alice", password: TestServer.password)
                for attempt in 1...3 {
                    let code = await Self.code { try await client.changePassword(current: "guess number \(attempt)", new: "a brand new passphrase") }
                    #expect(code == ErrorCode.invalidCredentials.rawValue)
                }
                do {
                    _ = try await client.balance()
                    Issue.record("the session stayed open after three wrong current passwords")
                } catch let error as IntegraClientError {
                    #expect(error.kind == .connection, "\(error)")
                }
            }
            let counted = server.deployment.server.throttleState { $0.accounts["alice"]?.failuresInWindow ?? 0 }
            #expect(counted == 3)
        }
    }

    @Test(arguments: TestStore.all) func aPasswordChangeEndsEveryOtherSession(store: TestStore) async throws {
        try await withTestServer(store) { server in
            try await server.addCustomer("alice", cents: 10_000)
            try await server.addCustomer("bob", cents: 0)
            try await server.withClient { other in
                try await other.login(username: "alice", password: TestServer.password)
                try await server.withClient { client in
                    try await client.login(username: "alice", password: TestServer.password)
                    try await client.changePassword(current: TestServer.password, new: "a brand new passphrase")
                    _ = try await client.balance()
                }
                let code = await Self.code { _ = try await other.transfer(to: "bob", amount: "1.00", transferID: "stolen-session") }
                #expect(code == ErrorCode.sessionEnded.rawValue)
            }
            let alice = try #require(try await server.store.user(named: Username("alice")))
            #expect(try await server.store.balance(ofUserID: alice.id) == 10_000, "no money moved on the ended session")
        }
    }

    /// A stolen or forgotten session does not live forever: at its lifetime the server ends it
    /// by itself, over the real socket, and nothing more is answered on it. The server's clock
    /// is the test's: the session answers until the last millisecond of its lifetime, and the
    /// first frame after it is refused (the deadline is checked when a frame arrives; the
    /// session timer, which checks it when nothing arrives, is in `ConnectionTimerTests`).
    @Test func aSessionEndsAtItsLifetimeWhateverItDoes() async throws {
        let clock = ManualClock()
        try await withTestServer(configure: {
            $0.sessionLifetimeMs = 60_000
            $0.clock = clock.wallClock
        }) { server in
            try await server.addCustomer("alice", cents: 500)
            try await server.withClient { client in
                try await client.login(username: "alice", password: TestServer.password)
                #expect(try await client.balance() == "5.00", "the session answers after its login")
                clock.advance(byMs: 59_999)
                #expect(try await client.balance() == "5.00", "the session answers until its lifetime")
                clock.advance(byMs: 1)
                let ended = await Self.code { _ = try await client.balance() }
                #expect(ended == ErrorCode.sessionEnded.rawValue, "\(String(describing: ended))")
                await #expect(throws: IntegraClientError.self, "nothing is answered on an ended session") { _ = try await client.balance() }
            }
        }
    }

    /// Logging in again, or on more connections, buys no new probes for names: the budget of
    /// `unknown_recipient` answers is the server's, per account, and refills with the server's
    /// clock (the test's: it stands still between the sessions however slowly they log in).
    @Test func probingForNamesIsLimitedPerAccountAcrossSessions() async throws {
        let clock = ManualClock()
        try await withTestServer(configure: {
            $0.recipientProbes.perAccountPerMinute = 1
            $0.recipientProbes.perAddressPerMinute = 1_000
            $0.clock = clock.wallClock
        }) { server in
            try await server.addCustomer("mallory", cents: 100_000)
            try await server.addCustomer("bob", cents: 0)
            func probe(_ name: String) async throws -> UInt16? {
                try await server.withClient { client in
                    try await client.login(username: "mallory", password: TestServer.password)
                    return await Self.code { _ = try await client.transfer(to: name, amount: "0.01", transferID: "probe-\(name)") }
                }
            }
            #expect(try await probe("guess") == ErrorCode.unknownRecipient.rawValue)
            #expect(try await probe("guess-again") == ErrorCode.rateLimited.rawValue, "a new session starts with the account's spent budget")
            clock.advance(byMs: 60_000)
            #expect(try await probe("a-minute-later") == ErrorCode.unknownRecipient.rawValue, "the account's budget refills by the minute")
        }
    }

    @Test func lookalikeNamesCannotRegisterNextToAnExistingOne() async throws {
        try await withTestServer { server in
            try await server.addCustomer("alice", cents: 0)
            for lookalike in ["ａｌｉｃｅ", "аlice", "alıce", "ALICE", ".", "..", "system", "ſystem"] {
                let code = await Self.code { _ = try await server.withClient { try await $0.register(username: lookalike, password: "a long enough password") } }
                #expect(code == ErrorCode.usernameTaken.rawValue || code == ErrorCode.invalidUsername.rawValue, "\(lookalike)")
            }
            let final = await Self.code { _ = try await server.withClient { try await $0.register(username: "λόγος", password: "a long enough password") } }
            let plain = await Self.code { _ = try await server.withClient { try await $0.register(username: "λόγοσ", password: "a long enough password") } }
            #expect(final == nil && plain == ErrorCode.usernameTaken.rawValue, "the two sigma forms are one name")
        }
    }

    @Test(arguments: [(Int64(120_000), Int64(3_600_000)), (Int64(3_600_000), Int64(120_000))])
    func aRecordedFrameIsNeverAdmittedAgainAfterTheWindowChanged(windows: (Int64, Int64)) async throws {
        try await withTemporaryDirectory { directory in
            let (transfer, context) = try await withTestServer(directory: directory, configure: { $0.replayWindowMs = windows.0 }) { first in
                try await first.addCustomer("alice", cents: 10_000)
                try await first.addCustomer("bob", cents: 0)
                let alice = try #require(try await first.store.user(named: Username("alice")))
                let session = SessionIdentity(userID: alice.id, username: "alice", credentialVersion: 0)
                let context = RequestContext(nonce: .random(), timestampMs: first.clock.nowMs())
                let transfer = ServerRequest.transfer(session, transferID: "once", recipient: "bob", amount: "1.00")
                let answered = await first.deployment.server.service.perform(transfer, context: context)
                guard case .reply = answered else { throw TestFailure("\(answered)") }
                return (transfer, context)
            }
            try await withTestServer(database: nil, directory: directory, configure: { $0.replayWindowMs = windows.1 }) { second async throws in
                let replayed = await second.deployment.server.service.perform(transfer, context: context)
                #expect(replayed == .failed(ProtocolError(.replayDetected, "this request was already received")))
            }
        }
    }

    /// Logins and reads record no nonce; a recorded frame still can't be used again: its MAC
    /// covers the connection id, so on another connection it fails authentication, and on its own
    /// connection the keys have changed (a replay of a frame under unchanged keys meets its spent
    /// sequence number: `ConnectionStateMachineTests`).
    @Test func aRecordedLoginFrameIsRefusedOnItsOwnConnectionAndOnAnother() async throws {
        try await withTestServer { server in
            try await server.addCustomer("alice", cents: 0)
            let login = ClientMessage.login(username: "alice", password: TestServer.password, ephemeralPublicKey: Curve25519.KeyAgreement.PrivateKey().publicKey.rawRepresentation.map { $0 }, deviceToken: nil)
            let recorded = try await server.withRawSession { session in
                let frame = try session.channel.seal(login.type, nowMs: session.clock.nowMs(), body: login.encodeBody)
                try await session.sendBytes(frame)
                let answer = try #require(try await session.receiveRaw())
                #expect(try RawFrame(answer).header.type == MessageType.loggedIn.rawValue, "the original frame logs in")
                try await session.sendBytes(frame)
                #expect(try await session.errorCodeThenClose() == .authenticationFailed, "its own connection now speaks session keys")
                return frame
            }
            try await server.withRawSession { session in
                try await session.sendBytes(recorded)
                #expect(try await session.errorCodeThenClose() == .authenticationFailed, "another connection has another id")
            }
        }
    }

    @Test func loginsCostTheDeploymentsBcryptCostWhateverTheStoredOne() async throws {
        try await withTestServer { server in
            // A customer added at cost 12 while the server hashes at 10 (an earlier `user add`).
            _ = try await PasswordHasher.withHasher(cost: 12) { slow in
                try await Administration.addUser(name: "dave", password: TestServer.password, store: server.store, hasher: slow, policy: PasswordPolicy())
            }
            #expect(PasswordHasher.cost(of: try #require(try await server.store.user(named: Username("dave"))).passwordHash) == 12)
            try await server.withClient { _ = try await $0.login(username: "dave", password: TestServer.password) }
            let rehashed = try #require(try await server.store.user(named: Username("dave")))
            #expect(PasswordHasher.cost(of: rehashed.passwordHash) == ServerConfiguration.minimumBcryptCost)
            #expect(rehashed.violation == nil, "the re-hashed row is sealed")
            try await server.withClient { _ = try await $0.login(username: "dave", password: TestServer.password) }
            #expect(try await server.store.setting(.bcryptCost) == Int64(ServerConfiguration.minimumBcryptCost), "user add finds the deployment's cost")
        }
    }

    @Test func proofsAreOnlyForTheCustomersOwnEntries() async throws {
        try await withTestServer { server in
            try await server.addCustomer("alice", cents: 1_000)
            try await server.addCustomer("bob", cents: 1_000)
            try await server.addCustomer("mallory", cents: 0)
            let bobs = try await server.withClient { client in
                try await client.login(username: "bob", password: TestServer.password)
                return try await client.transfer(to: "alice", amount: "1.00", transferID: "bobs")
            }
            let identity = server.deployment.keys.identityKey.publicKey
            let code = await Self.code {
                try await server.withClient { client in
                    try await client.login(username: "mallory", password: TestServer.password)
                    _ = try await client.audit(bobs, identity: identity)
                }
            }
            #expect(code == ErrorCode.entryNotFound.rawValue)
            let own = try await server.withClient { client in
                try await client.login(username: "alice", password: TestServer.password)
                return try await client.audit(bobs, identity: identity)
            }
            #expect(own.position == bobs.position, "the recipient may prove it")
        }
    }
}
