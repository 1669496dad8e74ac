import Crypto
@testable import IntegraProtocol
import NIOCore
import Testing

@Suite struct ConnectionStateMachineTests {
    @Test func registerLoginTransferAndLogoutInMemory() throws {
        var connection = try InMemoryConnection()

        let register = connection.client.makeRequest(.register(username: "Alice", password: "correct horse battery"), nowMs: connection.nowMs)
        guard case .perform(.register(let name, let password), _) = connection.deliver(register) else { throw TestFailure("register not performed") }
        #expect(name == "Alice" && password == "correct horse battery")
        guard case .send(let registered) = connection.server.requestCompleted(.reply(.registered(username: "alice")), nowMs: connection.nowMs) else { throw TestFailure("no reply") }
        #expect(try connection.client.replyReceived(registered, nowMs: connection.nowMs) == .registered(username: "alice"))

        try connection.logIn(userID: 42)
        #expect(connection.client.isAuthenticated)
        #expect(connection.server.authenticatedUserID == 42)

        let transfer = connection.client.makeRequest(.transfer(transferID: "t-1", recipient: "bob", amount: "100.50"), nowMs: connection.nowMs)
        guard case .perform(let request, let context) = connection.deliver(transfer) else { throw TestFailure("transfer not performed") }
        #expect(request == .transfer(userID: 42, username: "alice", transferID: "t-1", recipient: "bob", amount: "100.50"))
        #expect(context.timestampMs == connection.nowMs)
        let confirmation = try Receipt.sign(TransferConfirmation(transferID: "t-1", position: 3, sender: "alice", recipient: "bob", amount: "100.50", balanceAfter: "0.00", createdAtMs: connection.nowMs, isRetry: false), with: ProtocolFixtures.identityKey)
        guard case .send(let transferred) = connection.server.requestCompleted(.reply(.transferred(confirmation)), nowMs: connection.nowMs) else { throw TestFailure("no reply") }
        #expect(try connection.client.replyReceived(transferred, nowMs: connection.nowMs) == .transferred(confirmation))

        let logout = connection.client.makeRequest(.logout, nowMs: connection.nowMs)
        guard case .perform(.logout(userID: 42), _) = connection.deliver(logout) else { throw TestFailure("logout not performed") }
        guard case .sendAndClose(let loggedOut) = connection.server.requestCompleted(.loggedOut, nowMs: connection.nowMs) else { throw TestFailure("logout must close") }
        #expect(try connection.client.replyReceived(loggedOut, nowMs: connection.nowMs) == .loggedOut)
    }

    @Test func flippedBitAnywhereInAClientFrameIsRejected() throws {
        var template = try InMemoryConnection()
        try template.logIn()
        let frame = template.client.makeRequest(.transfer(transferID: "t-1", recipient: "bob", amount: "100"), nowMs: template.nowMs)
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
        let balance = connection.client.makeRequest(.balance, nowMs: connection.nowMs)
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
        _ = channel.seal(.balance, nowMs: connection.nowMs) { _ in }
        let second = channel.seal(.balance, nowMs: connection.nowMs) { _ in }
        let action = connection.deliver(second)
        #expect(action.sentErrorCode == .outOfOrder)
    }

    @Test func serverFrameReflectedBackToTheServerIsRejected() throws {
        var connection = try InMemoryConnection()
        let register = connection.client.makeRequest(.register(username: "alice", password: "correct horse battery"), nowMs: connection.nowMs)
        _ = connection.deliver(register)
        guard case .send(let reply) = connection.server.requestCompleted(.reply(.registered(username: "alice")), nowMs: connection.nowMs) else { throw TestFailure("no reply") }
        let action = connection.deliver(reply)
        #expect(action.sentErrorCode == .authenticationFailed)
        #expect(action.closes)
    }

    @Test func frameFromSessionAInjectedIntoSessionBIsRejected() throws {
        var first = try InMemoryConnection()
        var second = try InMemoryConnection()
        try first.logIn(userID: 1)
        try second.logIn(userID: 2)
        let frameOfA = first.client.makeRequest(.transfer(transferID: "x", recipient: "mallory", amount: "5"), nowMs: first.nowMs)
        let action = second.deliver(frameOfA)
        #expect(action.sentErrorCode == .authenticationFailed)
        // Even before login, a frame bound to one connection id fails on another.
        var third = try InMemoryConnection()
        var fourth = try InMemoryConnection()
        let register = third.client.makeRequest(.register(username: "eve", password: "correct horse battery"), nowMs: third.nowMs)
        #expect(fourth.deliver(register).sentErrorCode == .authenticationFailed)
    }

    @Test func staleAndFutureTimestampsAreRejected() throws {
        for skewMs: Int64 in [-120_001, 120_001, Int64.min / 2] {
            var connection = try InMemoryConnection()
            let frame = connection.client.makeRequest(.balance, nowMs: connection.nowMs + skewMs)
            #expect(connection.deliver(frame).sentErrorCode == .staleTimestamp)
        }
        var edge = try InMemoryConnection()
        let frame = edge.client.makeRequest(.register(username: "a", password: "correct horse battery"), nowMs: edge.nowMs - 120_000)
        guard case .perform = edge.deliver(frame) else { throw TestFailure("a frame at the window's edge must pass") }
    }

    @Test func requestsThatNeedASessionAreRejectedBeforeLogin() throws {
        var connection = try InMemoryConnection()
        let transfer = connection.client.makeRequest(.transfer(transferID: "t", recipient: "bob", amount: "1"), nowMs: connection.nowMs)
        let action = connection.deliver(transfer)
        #expect(action.sentErrorCode == .unexpectedMessage)
        #expect(action.closes)
    }

    @Test func secondLoginOnASessionIsRejected() throws {
        var connection = try InMemoryConnection()
        try connection.logIn()
        var channel = try Self.sessionChannel(of: connection.client)
        let login = channel.seal(.register, nowMs: connection.nowMs) { ClientMessage.register(username: "x", password: "correct horse battery").encodeBody(into: &$0) }
        #expect(connection.deliver(login).sentErrorCode == .unexpectedMessage)
    }

    @Test func holderOfTheClientKeyCannotForgeSessionFrames() throws {
        var connection = try InMemoryConnection()
        try connection.logIn()
        // An attacker who knows the client key signs a transfer with the pre-login keys.
        var forged = FrameChannel(
            connectionID: try Self.connectionID(of: connection.client), sendDirection: .clientToServer,
            keys: KeySchedule.preLoginKeys(clientKey: ProtocolFixtures.clientKey), replayWindowMs: 120_000)
        _ = forged.seal(.login, nowMs: connection.nowMs) { _ in }
        let frame = forged.seal(.transfer, nowMs: connection.nowMs) {
            ClientMessage.transfer(transferID: "evil", recipient: "mallory", amount: "999").encodeBody(into: &$0)
        }
        #expect(connection.deliver(frame).sentErrorCode == .authenticationFailed)
    }

    @Test func clientRejectsAServerThatCannotProveItsIdentity() throws {
        // The impostor has the client key but not the pinned identity key.
        let impostor = Curve25519.Signing.PrivateKey()
        var connection = try InMemoryConnection(client: ProtocolFixtures.clientConfiguration(identity: impostor.publicKey))
        let login = connection.client.makeLogin(username: "alice", password: "correct horse battery", nowMs: connection.nowMs)
        _ = connection.deliver(login)
        guard case .send(let reply) = connection.server.requestCompleted(.loginSucceeded(userID: 1, username: "alice", balance: "0.00"), nowMs: connection.nowMs) else { throw TestFailure("no reply") }
        #expect(throws: ProtocolError(.authenticationFailed, "the server's identity signature is not valid: not the pinned server")) {
            try connection.client.replyReceived(reply, nowMs: connection.nowMs)
        }
        #expect(!connection.client.isAuthenticated)
    }

    @Test func clientRejectsATamperedServerAnswer() throws {
        var template = try InMemoryConnection()
        try template.logIn()
        let transfer = template.client.makeRequest(.transfer(transferID: "t-1", recipient: "bob", amount: "100"), nowMs: template.nowMs)
        _ = template.deliver(transfer)
        let confirmation = try Receipt.sign(TransferConfirmation(transferID: "t-1", position: 3, sender: "alice", recipient: "bob", amount: "100.00", balanceAfter: "0.00", createdAtMs: template.nowMs, isRetry: false), with: ProtocolFixtures.identityKey)
        guard case .send(let reply) = template.server.requestCompleted(.reply(.transferred(confirmation)), nowMs: template.nowMs) else { throw TestFailure("no reply") }
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
        _ = connection.deliver(connection.client.makeRequest(.transfer(transferID: "t", recipient: "bob", amount: "1"), nowMs: connection.nowMs))
        // Correctly MAC'd by the session, but the receipt is signed by another key.
        let forged = try Receipt.sign(
            TransferConfirmation(transferID: "t", position: 9, sender: "alice", recipient: "bob", amount: "1.00", balanceAfter: "9.00", createdAtMs: connection.nowMs, isRetry: false),
            with: Curve25519.Signing.PrivateKey())
        guard case .send(let reply) = connection.server.requestCompleted(.reply(.transferred(forged)), nowMs: connection.nowMs) else { throw TestFailure("no reply") }
        #expect(throws: ProtocolError(.authenticationFailed, "the transfer receipt is not signed by the pinned server")) {
            try connection.client.replyReceived(reply, nowMs: connection.nowMs)
        }
    }

    @Test func clientRejectsAReplayedServerAnswer() throws {
        var connection = try InMemoryConnection()
        try connection.logIn()
        _ = connection.deliver(connection.client.makeRequest(.balance, nowMs: connection.nowMs))
        guard case .send(let first) = connection.server.requestCompleted(.reply(.balanceReport(username: "alice", balance: "5.00")), nowMs: connection.nowMs) else { throw TestFailure("no reply") }
        _ = try connection.client.replyReceived(first, nowMs: connection.nowMs)
        _ = connection.deliver(connection.client.makeRequest(.balance, nowMs: connection.nowMs))
        #expect(throws: ProtocolError.self) { try connection.client.replyReceived(first, nowMs: connection.nowMs) }
    }

    @Test func clientRejectsAnAnswerOfTheWrongType() throws {
        var connection = try InMemoryConnection()
        try connection.logIn()
        _ = connection.deliver(connection.client.makeRequest(.transfer(transferID: "t", recipient: "bob", amount: "1"), nowMs: connection.nowMs))
        guard case .send(let reply) = connection.server.requestCompleted(.reply(.balanceReport(username: "alice", balance: "1000000.00")), nowMs: connection.nowMs) else { throw TestFailure("no reply") }
        #expect(throws: ProtocolError.self) { try connection.client.replyReceived(reply, nowMs: connection.nowMs) }
    }

    @Test func clientRejectsAHelloUnderAnotherClientKey() throws {
        var server = ServerConnectionStateMachine(configuration: ProtocolFixtures.serverConfiguration)
        var client = ClientConnectionStateMachine(configuration: ProtocolFixtures.clientConfiguration(clientKey: SymmetricKey(size: .bits256)))
        let hello = server.connectionOpened(nowMs: ProtocolFixtures.nowMs)
        #expect(throws: ProtocolError.self) { try client.helloReceived(hello, nowMs: ProtocolFixtures.nowMs) }
    }

    @Test func serverErrorIsVerifiedAndKeepsTheSessionWhenRecoverable() throws {
        var connection = try InMemoryConnection()
        try connection.logIn()
        _ = connection.deliver(connection.client.makeRequest(.transfer(transferID: "t", recipient: "bob", amount: "1"), nowMs: connection.nowMs))
        let action = connection.server.requestCompleted(.failed(ProtocolError(.insufficientFunds, "insufficient funds")), nowMs: connection.nowMs)
        guard case .send(let reply) = action else { throw TestFailure("a ledger refusal keeps the connection open") }
        #expect(try connection.client.replyReceived(reply, nowMs: connection.nowMs) == .error(code: 301, message: "insufficient funds"))
        #expect(connection.client.isReady)
    }

    @Test func repeatedFailedLoginsCloseTheConnection() throws {
        var connection = try InMemoryConnection()
        for attempt in 1...3 {
            let login = connection.client.makeLogin(username: "alice", password: "wrong password!", nowMs: connection.nowMs)
            _ = connection.deliver(login)
            let action = connection.server.requestCompleted(.failed(ProtocolError(.invalidCredentials, "unknown user or wrong password")), nowMs: connection.nowMs)
            #expect(action.closes == (attempt == 3))
            guard case .send(let reply) = action else { break }
            #expect(try connection.client.replyReceived(reply, nowMs: connection.nowMs) == .error(code: 203, message: "unknown user or wrong password"))
        }
    }

    @Test func decodingFailureAnswersWithItsCodeAndCloses() throws {
        var connection = try InMemoryConnection()
        let action = connection.server.decodingFailed(ProtocolError(.frameTooLarge, "too large"), nowMs: connection.nowMs)
        #expect(action.sentErrorCode == .frameTooLarge)
        #expect(action.closes)
        #expect(connection.server.frameReceived(ProtocolFixtures.frame(type: 5), nowMs: connection.nowMs).closes)
    }

    @Test func loginWithAnInvalidEphemeralKeyLengthIsMalformed() throws {
        var connection = try InMemoryConnection()
        var channel = try Self.anonymousChannel(of: connection.client)
        let frame = channel.seal(.login, nowMs: connection.nowMs) {
            $0.string(1, "alice")
            $0.string(2, "correct horse battery")
            $0.bytes(3, [1, 2, 3])
        }
        #expect(connection.deliver(frame).sentErrorCode == .malformedMessage)
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
