import Crypto
@testable import IntegraProtocol
import IntegraTestSupport
import NIOCore
import Testing

@Suite struct ConnectionStateMachineTests {
    @Test func registerLoginTransferAndLogoutInMemory() throws {
        var connection = try InMemoryConnection()

        let register = try connection.client.makeRequest(.register(username: "Alice", password: "correct horse battery"), nowMs: connection.nowMs)
        guard case .perform(.register(let name, let password), _) = connection.submit(register) else { throw TestFailure("register not performed") }
        #expect(name == "Alice" && password == "correct horse battery")
        guard case .send(let registered) = connection.server.requestCompleted(.reply(.registered(username: "alice")), nowMs: connection.nowMs) else { throw TestFailure("no reply") }
        #expect(try connection.client.replyReceived(registered.frame, nowMs: connection.nowMs) == .registered(username: "alice"))

        try connection.logIn(userID: 42)
        #expect(connection.client.isAuthenticated)
        #expect(connection.server.session == SessionIdentity(userID: 42, username: "alice", credentialVersion: 0))

        let transfer = try connection.client.makeRequest(.transfer(transferID: "t-1", recipient: "bob", amount: "100.50"), nowMs: connection.nowMs)
        guard case .perform(let request, let context) = connection.deliver(transfer) else { throw TestFailure("transfer not performed") }
        #expect(request == .transfer(SessionIdentity(userID: 42, username: "alice", credentialVersion: 0), transferID: "t-1", recipient: "bob", amount: "100.50"))
        #expect(context.timestampMs == connection.nowMs)
        let confirmation = try Receipt.sign(TransferConfirmation(transferID: "t-1", position: 3, sender: "alice", recipient: "bob", amount: "100.50", balanceAfter: "0.00", createdAtMs: connection.nowMs, isRetry: false), with: ProtocolFixtures.identityKey)
        guard case .send(let transferred) = connection.server.requestCompleted(.reply(.transferred(confirmation)), nowMs: connection.nowMs) else { throw TestFailure("no reply") }
        #expect(try connection.client.replyReceived(transferred.frame, nowMs: connection.nowMs) == .transferred(confirmation))

        let logout = try connection.client.makeRequest(.logout, nowMs: connection.nowMs)
        guard case .perform(.logout(let session), _) = connection.deliver(logout), session.userID == 42 else { throw TestFailure("logout not performed") }
        guard case .send(let loggedOut) = connection.server.requestCompleted(.loggedOut, nowMs: connection.nowMs), loggedOut.closesConnection else { throw TestFailure("logout must close") }
        #expect(try connection.client.replyReceived(loggedOut.frame, nowMs: connection.nowMs) == .loggedOut)
    }

    @Test func flippedBitAnywhereInAClientFrameIsRejected() throws {
        var template = try InMemoryConnection()
        try template.logIn()
        let frame = try template.client.makeRequest(.transfer(transferID: "t-1", recipient: "bob", amount: "100"), nowMs: template.nowMs)
        for byteIndex in 0..<frame.readableBytes {
            for bit in [0, 7] {
                var connection = template
                var tampered = frame
                tampered.setInteger(frame.getInteger(at: byteIndex, as: UInt8.self)! ^ UInt8(1 << bit), at: byteIndex)
                let action = connection.deliver(tampered)
                #expect(action.closes, "flipping bit \(bit) of byte \(byteIndex) was not rejected")
                #expect([.authenticationFailed, .malformedFrame, .unsupportedVersion].contains(action.sentErrorCode))
            }
        }
    }

    @Test func replayedFrameOnTheSameConnectionIsRejected() throws {
        var connection = try InMemoryConnection()
        try connection.logIn()
        let balance = try connection.client.makeRequest(.balance, nowMs: connection.nowMs)
        guard case .perform = connection.deliver(balance) else { throw TestFailure("balance not performed") }
        _ = connection.server.requestCompleted(.reply(.balanceReport(username: "alice", balance: "1.00")), nowMs: connection.nowMs)
        let replay = connection.deliver(balance)
        #expect(replay.sentErrorCode == .replayDetected)
        #expect(replay.closes)
    }

    @Test func reorderedFramesAreRejected() throws {
        var connection = try InMemoryConnection()
        try connection.logIn()
        // A client that pipelines two frames; the second arrives first.
        var channel = try Self.sessionChannel(of: connection.client)
        _ = try channel.seal(.balance, nowMs: connection.nowMs) { _ in }
        let second = try channel.seal(.balance, nowMs: connection.nowMs) { _ in }
        let action = connection.deliver(second)
        #expect(action.sentErrorCode == .outOfOrder)
    }

    @Test func serverFrameReflectedBackToTheServerIsRejected() throws {
        var connection = try InMemoryConnection()
        let register = try connection.client.makeRequest(.register(username: "alice", password: "correct horse battery"), nowMs: connection.nowMs)
        _ = connection.submit(register)
        guard case .send(let reply) = connection.server.requestCompleted(.reply(.registered(username: "alice")), nowMs: connection.nowMs) else { throw TestFailure("no reply") }
        let action = connection.deliver(reply.frame)
        #expect(action.sentErrorCode == .authenticationFailed)
        #expect(action.closes)
    }

    @Test func frameFromSessionAInjectedIntoSessionBIsRejected() throws {
        var first = try InMemoryConnection(seed: 1)
        var second = try InMemoryConnection(seed: 3)
        try first.logIn(userID: 1)
        try second.logIn(userID: 2)
        let frameOfA = try first.client.makeRequest(.transfer(transferID: "x", recipient: "mallory", amount: "5"), nowMs: first.nowMs)
        let action = second.deliver(frameOfA)
        #expect(action.sentErrorCode == .authenticationFailed)
        // Even before login, a frame bound to one connection id fails on another.
        var third = try InMemoryConnection(seed: 5)
        var fourth = try InMemoryConnection(seed: 7)
        let register = try third.client.makeRequest(.register(username: "eve", password: "correct horse battery"), nowMs: third.nowMs)
        #expect(fourth.deliver(register).sentErrorCode == .authenticationFailed)
    }

    @Test func staleAndFutureTimestampsAreRejected() throws {
        for skewMs: Int64 in [-120_001, 120_001, Int64.min / 2] {
            var connection = try InMemoryConnection()
            let frame = try connection.client.makeRequest(.balance, nowMs: connection.nowMs + skewMs)
            #expect(connection.deliver(frame).sentErrorCode == .staleTimestamp)
        }
        var edge = try InMemoryConnection()
        let frame = try edge.client.makeRequest(.register(username: "a", password: "correct horse battery"), nowMs: edge.nowMs - 120_000)
        guard case .perform = edge.submit(frame) else { throw TestFailure("a frame at the window's edge must pass") }
    }

    @Test func requestsThatNeedASessionAreRejectedBeforeLogin() throws {
        var connection = try InMemoryConnection()
        let transfer = try connection.client.makeRequest(.transfer(transferID: "t", recipient: "bob", amount: "1"), nowMs: connection.nowMs)
        let action = connection.deliver(transfer)
        #expect(action.sentErrorCode == .unexpectedMessage)
        #expect(action.closes)
    }

    @Test func secondLoginOnASessionIsRejected() throws {
        var connection = try InMemoryConnection()
        try connection.logIn()
        var channel = try Self.sessionChannel(of: connection.client)
        let login = try channel.seal(.register, nowMs: connection.nowMs) { ClientMessage.register(username: "x", password: "correct horse battery").encodeBody(into: &$0) }
        #expect(connection.deliver(login).sentErrorCode == .unexpectedMessage)
    }

    @Test func holderOfTheClientKeyCannotForgeSessionFrames() throws {
        var connection = try InMemoryConnection()
        try connection.logIn()
        // An attacker who knows the client key signs a transfer with the pre-login keys.
        var forged = FrameChannel(
            connectionID: try Self.connectionID(of: connection.client), sendDirection: .clientToServer,
            keys: KeySchedule.preLoginKeys(clientKey: ProtocolFixtures.clientKey), replayWindowMs: 120_000)
        _ = try forged.seal(.login, nowMs: connection.nowMs) { _ in }
        let frame = try forged.seal(.transfer, nowMs: connection.nowMs) {
            ClientMessage.transfer(transferID: "evil", recipient: "mallory", amount: "999").encodeBody(into: &$0)
        }
        #expect(connection.deliver(frame).sentErrorCode == .authenticationFailed)
    }

    @Test func clientRejectsAServerThatCannotProveItsIdentity() throws {
        // The impostor has the client key but not the pinned identity key.
        let impostor = Curve25519.Signing.PrivateKey()
        var connection = try InMemoryConnection(client: ProtocolFixtures.clientConfiguration(identity: impostor.publicKey))
        let login = try connection.client.makeLogin(username: "alice", password: "correct horse battery", nowMs: connection.nowMs)
        _ = connection.submit(login)
        guard case .send(let reply) = connection.server.requestCompleted(.loginSucceeded(InMemoryConnection.grant()), nowMs: connection.nowMs) else { throw TestFailure("no reply") }
        #expect(throws: ProtocolError(.authenticationFailed, "the server's identity signature is not valid: not the pinned server")) {
            try connection.client.replyReceived(reply.frame, nowMs: connection.nowMs)
        }
        #expect(!connection.client.isAuthenticated)
    }

    @Test func clientRejectsATamperedServerAnswer() throws {
        var template = try InMemoryConnection()
        try template.logIn()
        let transfer = try template.client.makeRequest(.transfer(transferID: "t-1", recipient: "bob", amount: "100"), nowMs: template.nowMs)
        _ = template.deliver(transfer)
        let confirmation = try Receipt.sign(TransferConfirmation(transferID: "t-1", position: 3, sender: "alice", recipient: "bob", amount: "100.00", balanceAfter: "0.00", createdAtMs: template.nowMs, isRetry: false), with: ProtocolFixtures.identityKey)
        guard case .send(let outbound) = template.server.requestCompleted(.reply(.transferred(confirmation)), nowMs: template.nowMs) else { throw TestFailure("no reply") }
        let reply = outbound.frame
        for byteIndex in 0..<reply.readableBytes {
            var connection = template
            var tampered = reply
            tampered.setInteger(reply.getInteger(at: byteIndex, as: UInt8.self)! ^ 0x01, at: byteIndex)
            #expect(throws: ProtocolError.self, "byte \(byteIndex) flipped was accepted") {
                try connection.client.replyReceived(tampered, nowMs: connection.nowMs)
            }
        }
        var connection = template
        #expect(try connection.client.replyReceived(reply, nowMs: connection.nowMs) == .transferred(confirmation))
    }

    @Test func clientRejectsATransferAnswerWithoutAValidReceipt() throws {
        var connection = try InMemoryConnection()
        try connection.logIn()
        _ = connection.deliver(try connection.client.makeRequest(.transfer(transferID: "t", recipient: "bob", amount: "1"), nowMs: connection.nowMs))
        // Correctly MAC'd by the session, but the receipt is signed by another key.
        let forged = try Receipt.sign(
            TransferConfirmation(transferID: "t", position: 9, sender: "alice", recipient: "bob", amount: "1.00", balanceAfter: "9.00", createdAtMs: connection.nowMs, isRetry: false),
            with: Curve25519.Signing.PrivateKey())
        guard case .send(let reply) = connection.server.requestCompleted(.reply(.transferred(forged)), nowMs: connection.nowMs) else { throw TestFailure("no reply") }
        #expect(throws: ProtocolError(.authenticationFailed, "the transfer receipt is not signed by the pinned server")) {
            try connection.client.replyReceived(reply.frame, nowMs: connection.nowMs)
        }
    }

    @Test func clientRejectsAReplayedServerAnswer() throws {
        var connection = try InMemoryConnection()
        try connection.logIn()
        _ = connection.deliver(try connection.client.makeRequest(.balance, nowMs: connection.nowMs))
        guard case .send(let first) = connection.server.requestCompleted(.reply(.balanceReport(username: "alice", balance: "5.00")), nowMs: connection.nowMs) else { throw TestFailure("no reply") }
        _ = try connection.client.replyReceived(first.frame, nowMs: connection.nowMs)
        _ = connection.deliver(try connection.client.makeRequest(.balance, nowMs: connection.nowMs))
        #expect(throws: ProtocolError.self) { try connection.client.replyReceived(first.frame, nowMs: connection.nowMs) }
    }

    @Test func clientRejectsAnAnswerOfTheWrongType() throws {
        var connection = try InMemoryConnection()
        try connection.logIn()
        _ = connection.deliver(try connection.client.makeRequest(.transfer(transferID: "t", recipient: "bob", amount: "1"), nowMs: connection.nowMs))
        guard case .send(let reply) = connection.server.requestCompleted(.reply(.balanceReport(username: "alice", balance: "1000000.00")), nowMs: connection.nowMs) else { throw TestFailure("no reply") }
        #expect(throws: ProtocolError.self) { try connection.client.replyReceived(reply.frame, nowMs: connection.nowMs) }
    }

    @Test func clientRejectsAHelloUnderAnotherClientKey() throws {
        var server = ServerConnectionStateMachine(configuration: ProtocolFixtures.serverConfiguration, random: SeededRandomSource(seed: 5))
        var client = ClientConnectionStateMachine(configuration: ProtocolFixtures.clientConfiguration(clientKey: SymmetricKey(size: .bits256)))
        let hello = try #require(server.connectionOpened(nowMs: ProtocolFixtures.nowMs).frame)
        #expect(throws: ProtocolError.self) { try client.helloReceived(hello, nowMs: ProtocolFixtures.nowMs) }
    }

    @Test func serverErrorIsVerifiedAndKeepsTheSessionWhenRecoverable() throws {
        var connection = try InMemoryConnection()
        try connection.logIn()
        _ = connection.deliver(try connection.client.makeRequest(.transfer(transferID: "t", recipient: "bob", amount: "1"), nowMs: connection.nowMs))
        let action = connection.server.requestCompleted(.failed(ProtocolError(.insufficientFunds, "insufficient funds")), nowMs: connection.nowMs)
        guard case .send(let reply) = action, !reply.closesConnection else { throw TestFailure("a ledger refusal keeps the connection open") }
        #expect(try connection.client.replyReceived(reply.frame, nowMs: connection.nowMs) == .error(code: 301, message: "insufficient funds"))
        #expect(connection.client.isReady)
    }

    @Test func repeatedFailedLoginsCloseTheConnection() throws {
        var connection = try InMemoryConnection()
        for attempt in 1...3 {
            let login = try connection.client.makeLogin(username: "alice", password: "wrong password!", nowMs: connection.nowMs)
            _ = connection.submit(login)
            let action = connection.server.requestCompleted(.failed(ProtocolError(.invalidCredentials, "unknown user or wrong password")), nowMs: connection.nowMs)
            #expect(action.closes == (attempt == 3))
            guard case .send(let reply) = action, !reply.closesConnection else { break }
            #expect(try connection.client.replyReceived(reply.frame, nowMs: connection.nowMs) == .error(code: 203, message: "unknown user or wrong password"))
        }
    }

    @Test func decodingFailureAnswersWithItsCodeAndCloses() throws {
        var connection = try InMemoryConnection()
        let action = connection.server.decodingFailed(ProtocolError(.frameTooLarge, "too large"), nowMs: connection.nowMs)
        #expect(action.sentErrorCode == .frameTooLarge)
        #expect(action.closes)
        guard case .none = connection.server.frameReceived(ProtocolFixtures.frame(type: 5), nowMs: connection.nowMs) else {
            throw TestFailure("a closed connection handled a frame")
        }
    }

    @Test func loginWithAnInvalidEphemeralKeyLengthIsMalformed() throws {
        var connection = try InMemoryConnection()
        var channel = try Self.anonymousChannel(of: connection.client)
        let frame = try channel.seal(.login, nowMs: connection.nowMs) {
            $0.string(1, "alice")
            $0.string(2, "correct horse battery")
            $0.bytes(3, [1, 2, 3])
        }
        #expect(connection.deliver(frame).sentErrorCode == .malformedMessage)
    }

    // MARK: Hostile customers

    /// RFC 7748 §6.1 and the small-subgroup points of Curve25519 (as little-endian u): 0, 1,
    /// p−1, p, p+1, and two points of order 8. Each makes the shared secret all zeros.
    static let lowOrderPoints: [(String, [UInt8])] = [
        ("0", Array(repeating: 0, count: 32)),
        ("1", [1] + Array(repeating: 0, count: 31)),
        ("p-1", [0xEC] + Array(repeating: 0xFF, count: 30) + [0x7F]),
        ("p", [0xED] + Array(repeating: 0xFF, count: 30) + [0x7F]),
        ("p+1", [0xEE] + Array(repeating: 0xFF, count: 30) + [0x7F]),
        ("order 8 (a)", [UInt8]([0xE0, 0xEB, 0x7A, 0x7C, 0x3B, 0x41, 0xB8, 0xAE, 0x16, 0x56, 0xE3, 0xFA, 0xF1, 0x9F, 0xC4, 0x6A,
                                 0xDA, 0x09, 0x8D, 0xEB, 0x9C, 0x32, 0xB1, 0xFD, 0x86, 0x62, 0x05, 0x16, 0x5F, 0x49, 0xB8, 0x00])),
        ("order 8 (b)", [UInt8]([0x5F, 0x9C, 0x95, 0xBC, 0xA3, 0x50, 0x8C, 0x24, 0xB1, 0xD0, 0xB1, 0x55, 0x9C, 0x83, 0xEF, 0x5B,
                                 0x04, 0x44, 0x5C, 0xC4, 0x58, 0x1C, 0x8E, 0x86, 0xD8, 0x22, 0x4E, 0xDD, 0xD0, 0x9F, 0x11, 0x57])),
    ]

    @Test func loginWithANonContributoryKeyShareIsRefusedBeforeAnyPasswordWork() throws {
        for (name, point) in Self.lowOrderPoints {
            var connection = try InMemoryConnection()
            var channel = try Self.anonymousChannel(of: connection.client)
            let frame = try channel.seal(.login, nowMs: connection.nowMs) {
                ClientMessage.login(username: "alice", password: "correct horse battery", ephemeralPublicKey: point, deviceToken: nil).encodeBody(into: &$0)
            }
            let action = connection.deliver(frame)
            #expect(action.sentErrorCode == .malformedMessage, "point \(name)")
            #expect(action.closes, "point \(name)")
        }
    }

    @Test func sameSeedsGiveTheSameConversationByteForByte() throws {
        func transcript() throws -> [ByteBuffer] {
            var connection = try InMemoryConnection(seed: 77)
            let login = try connection.client.makeLogin(username: "alice", password: "correct horse battery", nowMs: connection.nowMs)
            guard case .perform = connection.submit(login) else { throw TestFailure("login not performed") }
            let reply = try #require(connection.server.requestCompleted(.loginSucceeded(InMemoryConnection.grant()), nowMs: connection.nowMs).frame)
            return [login, reply]
        }
        #expect(try transcript() == transcript())
    }

    @Test func throttledLoginIsRefusedWithItsWaitAndClosesWithoutPasswordWork() throws {
        var connection = try InMemoryConnection()
        let login = try connection.client.makeLogin(username: "alice", password: "correct horse battery", nowMs: connection.nowMs)
        guard case .checkThrottle(.login(let account, let token)) = connection.deliver(login) else { throw TestFailure("the throttle was not asked") }
        #expect(account == "alice" && token == nil)
        let action = connection.server.throttleDecided(.throttled(retryAfterMs: 2_500), nowMs: connection.nowMs)
        #expect(action.sentErrorCode == .tooManyAttempts && action.closes)
        guard case .send(let outbound) = action else { throw TestFailure("no answer") }
        #expect(try connection.client.replyReceived(outbound.frame, nowMs: connection.nowMs) == .error(code: 204, message: "too many attempts; try again in 3 s"))
    }

    @Test func loginPresentsTheDeviceTokenToTheThrottleAndReceivesANewOne() throws {
        var connection = try InMemoryConnection()
        let login = try connection.client.makeLogin(username: "carol", password: "correct horse battery", deviceToken: [9, 9, 9], nowMs: connection.nowMs)
        guard case .checkThrottle(.login("carol", [9, 9, 9])) = connection.deliver(login) else { throw TestFailure("the token did not reach the throttle") }
        _ = connection.server.throttleDecided(.allowed, nowMs: connection.nowMs)
        let reply = try #require(connection.server.requestCompleted(.loginSucceeded(InMemoryConnection.grant(username: "carol")), nowMs: connection.nowMs).frame)
        guard case .loggedIn(_, _, _, _, let token) = try connection.client.replyReceived(reply, nowMs: connection.nowMs) else { throw TestFailure("not logged in") }
        #expect(token == [1, 2, 3])
    }

    @Test func busyThrottleAnswersServerBusyAndKeepsTheConnection() throws {
        var connection = try InMemoryConnection()
        let login = try connection.client.makeLogin(username: "alice", password: "correct horse battery", nowMs: connection.nowMs)
        let action = connection.submit(login, verdict: .busy)
        #expect(action.sentErrorCode == .serverBusy && !action.closes)
    }

    @Test func wrongCurrentPasswordsCountInTheThrottleAndCloseTheSession() throws {
        var connection = try InMemoryConnection()
        try connection.logIn()
        for attempt in 1...3 {
            let change = try connection.client.makeRequest(.changePassword(currentPassword: "guess \(attempt) long enough", newPassword: "a new long password"), nowMs: connection.nowMs)
            guard case .checkThrottle(.passwordCheck(account: "alice", deviceToken: nil)) = connection.deliver(change) else { throw TestFailure("a password check must ask the throttle") }
            guard case .perform = connection.server.throttleDecided(.allowed, nowMs: connection.nowMs) else { throw TestFailure("not performed") }
            let action = connection.server.requestCompleted(.failed(ProtocolError(.invalidCredentials, "the current password is wrong")), nowMs: connection.nowMs)
            guard case .send(let outbound) = action else { throw TestFailure("no answer") }
            #expect(outbound.report?.throttle?.outcome == .wrongCredentials)
            #expect(outbound.closesConnection == (attempt == 3), "attempt \(attempt)")
            if !outbound.closesConnection { _ = try connection.client.replyReceived(outbound.frame, nowMs: connection.nowMs) }
        }
    }

    @Test func passwordChangeCarriesTheNewCredentialVersionIntoTheSession() throws {
        var connection = try InMemoryConnection()
        try connection.logIn()
        let change = try connection.client.makeRequest(.changePassword(currentPassword: "correct horse battery", newPassword: "a new long password"), nowMs: connection.nowMs)
        _ = connection.submit(change)
        let reply = try #require(connection.server.requestCompleted(.passwordChanged(credentialVersion: 1), nowMs: connection.nowMs).frame)
        #expect(try connection.client.replyReceived(reply, nowMs: connection.nowMs) == .passwordChanged)
        #expect(connection.server.session?.credentialVersion == 1)
    }

    @Test func sessionEndedByAPasswordChangeElsewhereClosesTheConnection() throws {
        var connection = try InMemoryConnection()
        try connection.logIn()
        _ = connection.deliver(try connection.client.makeRequest(.balance, nowMs: connection.nowMs))
        let action = connection.server.requestCompleted(.failed(ProtocolError(.sessionEnded, "log in again")), nowMs: connection.nowMs)
        #expect(action.sentErrorCode == .sessionEnded && action.closes)
    }

    @Test func sessionsEndAtTheirAbsoluteLifetime() throws {
        var limits = ServerConnectionStateMachine.Limits()
        limits.sessionLifetimeMs = 60_000
        var connection = try InMemoryConnection(limits: limits)
        let login = try connection.client.makeLogin(username: "alice", password: "correct horse battery", nowMs: connection.nowMs)
        _ = connection.submit(login)
        guard case .send(let loggedIn) = connection.server.requestCompleted(.loginSucceeded(InMemoryConnection.grant()), nowMs: connection.nowMs) else { throw TestFailure("no login") }
        #expect(loggedIn.sessionDeadlineMs == connection.nowMs + 60_000, "the handler arms the session timer")
        _ = try connection.client.replyReceived(loggedIn.frame, nowMs: connection.nowMs)
        guard case .none = connection.server.timerFired(nowMs: connection.nowMs + 59_999) else { throw TestFailure("the session ended early") }
        let expired = connection.server.timerFired(nowMs: connection.nowMs + 60_000)
        #expect(expired.sentErrorCode == .sessionEnded && expired.closes)

        // A frame that arrives after the deadline (the timer not fired yet) ends it too.
        var late = try InMemoryConnection(limits: limits)
        try late.logIn()
        let balance = try late.client.makeRequest(.balance, nowMs: late.nowMs + 60_000)
        late.nowMs += 60_000
        let action = late.deliver(balance)
        #expect(action.sentErrorCode == .sessionEnded && action.closes)
    }

    @Test func sessionRateLimitAnswersRateLimitedWithoutPerforming() throws {
        var limits = ServerConnectionStateMachine.Limits()
        limits.requestsPerSecond = 1
        limits.requestBurst = 2
        var connection = try InMemoryConnection(limits: limits)
        try connection.logIn()
        for _ in 0..<2 {
            guard case .perform = connection.deliver(try connection.client.makeRequest(.balance, nowMs: connection.nowMs)) else { throw TestFailure("refused within the burst") }
            let reply = try #require(connection.server.requestCompleted(.reply(.balanceReport(username: "alice", balance: "1.00")), nowMs: connection.nowMs).frame)
            _ = try connection.client.replyReceived(reply, nowMs: connection.nowMs)
        }
        let action = connection.deliver(try connection.client.makeRequest(.balance, nowMs: connection.nowMs))
        #expect(action.sentErrorCode == .rateLimited && !action.closes)
    }

    @Test func probingForNamesIsSlowedDown() throws {
        var limits = ServerConnectionStateMachine.Limits()
        limits.unknownRecipientsPerMinute = 3
        var connection = try InMemoryConnection(limits: limits)
        try connection.logIn()
        for index in 0..<3 {
            let transfer = try connection.client.makeRequest(.transfer(transferID: "p\(index)", recipient: "guess\(index)", amount: "0.01"), nowMs: connection.nowMs)
            guard case .perform = connection.deliver(transfer) else { throw TestFailure("probe \(index) not performed") }
            let reply = try #require(connection.server.requestCompleted(.failed(ProtocolError(.unknownRecipient, "the recipient does not exist")), nowMs: connection.nowMs).frame)
            _ = try connection.client.replyReceived(reply, nowMs: connection.nowMs)
        }
        let next = try connection.client.makeRequest(.transfer(transferID: "p3", recipient: "guess3", amount: "0.01"), nowMs: connection.nowMs)
        #expect(connection.deliver(next).sentErrorCode == .rateLimited, "a fourth probe within the minute is not even performed")
    }

    @Test func shuttingDownAnswersServerBusyToNewRequests() throws {
        var connection = try InMemoryConnection()
        try connection.logIn()
        _ = connection.server.shutdownBegan()
        let action = connection.deliver(try connection.client.makeRequest(.balance, nowMs: connection.nowMs))
        #expect(action.sentErrorCode == .serverBusy && !action.closes)
    }

    @Test func anAnswerThatCannotFitAFrameBecomesInternalErrorNeverATrap() throws {
        var connection = try InMemoryConnection()
        try connection.logIn()
        _ = connection.deliver(try connection.client.makeRequest(.history(beforePosition: nil, limit: 100), nowMs: connection.nowMs))
        // Stored names far longer than the name rules allow (a legacy or tampered row).
        let longName = String(repeating: "ཱ", count: 400)
        let entry = HistoryEntry(position: 1, kind: .deposit, transferID: "d", sender: "system", recipient: longName, amount: "1.00", balanceAfter: "1.00", createdAtMs: 1)
        let action = connection.server.requestCompleted(.reply(.historyPage(entries: Array(repeating: entry, count: 100), nextBefore: nil)), nowMs: connection.nowMs)
        #expect(action.sentErrorCode == .internalError && action.closes)
        #expect((action.frame?.readableBytes ?? 0) <= FrameFormat.defaultMaximumFrameBytes)
    }

    // MARK: Helpers reaching into the client's channel to play a misbehaving client.

    static func sessionChannel(of client: ClientConnectionStateMachine) throws -> FrameChannel {
        guard case .authenticated(let channel) = client.stateForTesting else { throw TestFailure("not authenticated") }
        return channel
    }

    static func anonymousChannel(of client: ClientConnectionStateMachine) throws -> FrameChannel {
        guard case .anonymous(let anonymous) = client.stateForTesting else { throw TestFailure("not anonymous") }
        return anonymous.channel
    }

    static func connectionID(of client: ClientConnectionStateMachine) throws -> ConnectionID {
        switch client.stateForTesting {
        case .authenticated(let channel): return channel.connectionID
        case .anonymous(let anonymous): return anonymous.channel.connectionID
        default: throw TestFailure("no channel")
        }
    }
}
