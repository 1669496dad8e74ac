import Crypto
@testable import IntegraProtocol
import IntegraTestSupport
import NIOCore

/// Keys and sample messages shared by the protocol tests.
enum ProtocolFixtures {
    static let nowMs: Int64 = 1_800_000_000_000
    static let clientKey = SymmetricKey(data: Array(repeating: UInt8(7), count: 32))
    static let identityKey = Curve25519.Signing.PrivateKey()

    static var serverConfiguration: ServerConnectionStateMachine.Configuration {
        Self.serverConfiguration(limits: ServerConnectionStateMachine.Limits())
    }

    static func serverConfiguration(limits: ServerConnectionStateMachine.Limits) -> ServerConnectionStateMachine.Configuration {
        ServerConnectionStateMachine.Configuration(clientKey: clientKey, identityKey: identityKey, replayWindowMs: 120_000, limits: limits)
    }

    static func clientConfiguration(identity: Curve25519.Signing.PublicKey = identityKey.publicKey, clientKey: SymmetricKey = clientKey) -> ClientConnectionStateMachine.Configuration {
        ClientConnectionStateMachine.Configuration(clientKey: clientKey, serverIdentityKey: identity, replayWindowMs: 120_000)
    }

    static let clientMessages: [ClientMessage] = [
        .register(username: "alice", password: "correct horse battery"),
        .login(username: "Alice", password: "correct horse battery", ephemeralPublicKey: Array(repeating: 9, count: 32), deviceToken: nil),
        .login(username: "Alice", password: "correct horse battery", ephemeralPublicKey: Array(repeating: 9, count: 32), deviceToken: Array(repeating: 8, count: 41)),
        .logout,
        .transfer(transferID: "t-1", recipient: "bob", amount: "100.50"),
        .balance,
        .history(beforePosition: nil, limit: 50),
        .history(beforePosition: 77, limit: 1),
        .changePassword(currentPassword: "correct horse battery", newPassword: "another good password"),
        .proof(position: 42),
        .treeProof(position: nil, fromTreeSize: nil),
        .treeProof(position: 7, fromTreeSize: 3),
    ]

    static let serverMessages: [ServerMessage] = [
        .hello(connectionID: ConnectionID(bytes: Array(0..<16)), replayWindowMs: 120_000),
        .registered(username: "alice"),
        .loggedIn(username: "alice", balance: "10.00", ephemeralPublicKey: Array(repeating: 1, count: 32), signature: Array(repeating: 2, count: 64), deviceToken: nil),
        .loggedIn(username: "alice", balance: "10.00", ephemeralPublicKey: Array(repeating: 1, count: 32), signature: Array(repeating: 2, count: 64), deviceToken: Array(repeating: 3, count: 41)),
        .loggedOut,
        .transferred(TransferConfirmation(transferID: "t-1", position: 9, sender: "alice", recipient: "bob", amount: "1.00", balanceAfter: "9.00", createdAtMs: nowMs, isRetry: true)),
        .balanceReport(username: "alice", balance: "9.00"),
        .historyPage(entries: [
            HistoryEntry(position: 9, kind: .transfer, transferID: "t-1", sender: "alice", recipient: "bob", amount: "1.00", balanceAfter: "9.00", createdAtMs: nowMs),
            HistoryEntry(position: 1, kind: .deposit, transferID: "d-1", sender: "system", recipient: "alice", amount: "10.00", balanceAfter: "10.00", createdAtMs: nowMs - 5),
        ], nextBefore: 1),
        .historyPage(entries: [], nextBefore: nil),
        .passwordChanged,
        .inclusionProof(InclusionProof(position: 5, digests: Array(repeating: 3, count: 64), checkpointPosition: 7, checkpointChainHash: Array(repeating: 4, count: 32), checkpointCreatedAtMs: nowMs, checkpointSignature: Array(repeating: 5, count: 64), entry: Array("integra/1 entry".utf8) + Array(repeating: 6, count: 70), previousChainHash: Array(repeating: 7, count: 32))),
        .treeProofs(TreeProofs(treeHead: Array("integra/0011223344556677\n2\n\n".utf8))),
        .treeProofs(TreeProofs(
            treeHead: Array("note".utf8), entry: Array("integra/1 entry".utf8), inclusionPath: [Array(repeating: 8, count: 32)], fromTreeSize: 1,
            consistencyPath: [Array(repeating: 9, count: 32), Array(repeating: 10, count: 32)])),
        .error(code: ErrorCode.insufficientFunds.rawValue, message: "insufficient funds"),
    ]

    /// A sealed frame of `type` with `body`, under an arbitrary key.
    static func frame(type: UInt8, direction: Direction = .clientToServer, sequence: UInt64 = 0, body: (inout FieldWriter) -> Void = { _ in }) -> ByteBuffer {
        try! FrameSealer.seal(
            header: FrameHeader(type: type, direction: direction, sequence: sequence, timestampMs: nowMs, nonce: .random()),
            key: clientKey, connectionID: ConnectionID(bytes: Array(repeating: 0, count: 16)), body: body)
    }
}

/// A client and a server state machine talking in memory, without sockets, clocks or system
/// randomness: both draw from seeded generators, and time is `nowMs`.
struct InMemoryConnection {
    var server: ServerConnectionStateMachine
    var client: ClientConnectionStateMachine
    var nowMs = ProtocolFixtures.nowMs

    init(
        client clientConfiguration: ClientConnectionStateMachine.Configuration = ProtocolFixtures.clientConfiguration(),
        limits: ServerConnectionStateMachine.Limits = ServerConnectionStateMachine.Limits(), seed: UInt64 = 1
    ) throws {
        self.server = ServerConnectionStateMachine(configuration: ProtocolFixtures.serverConfiguration(limits: limits), random: SeededRandomSource(seed: seed))
        self.client = ClientConnectionStateMachine(configuration: clientConfiguration, random: SeededRandomSource(seed: seed &+ 1))
        guard case .send(let hello) = self.server.connectionOpened(nowMs: self.nowMs) else { throw TestFailure("no hello") }
        try self.client.helloReceived(hello.frame, nowMs: self.nowMs)
    }

    /// Delivers a client frame to the server.
    mutating func deliver(_ frame: ByteBuffer) -> ServerConnectionStateMachine.Action {
        self.server.frameReceived(frame, nowMs: self.nowMs)
    }

    /// Delivers a client frame and answers a throttle question with `verdict`.
    mutating func submit(_ frame: ByteBuffer, verdict: ThrottleVerdict = .allowed) -> ServerConnectionStateMachine.Action {
        let action = self.deliver(frame)
        guard case .checkThrottle = action else { return action }
        return self.server.throttleDecided(verdict, nowMs: self.nowMs)
    }

    /// The grant a successful login gives the customer.
    static func grant(userID: Int64 = 42, username: String = "alice", credentialVersion: Int64 = 0) -> LoginGrant {
        LoginGrant(identity: SessionIdentity(userID: userID, username: username, credentialVersion: credentialVersion), balance: "10.00", deviceToken: [1, 2, 3])
    }

    /// Logs in, answering the login request as the ledger service would.
    mutating func logIn(userID: Int64 = 42, username: String = "alice") throws {
        let frame = try self.client.makeLogin(username: username, password: "correct horse battery", nowMs: self.nowMs)
        guard case .perform(.login, _) = self.submit(frame) else { throw TestFailure("login was not performed") }
        guard case .send(let reply) = self.server.requestCompleted(.loginSucceeded(Self.grant(userID: userID, username: username)), nowMs: self.nowMs) else {
            throw TestFailure("no login reply")
        }
        _ = try self.client.replyReceived(reply.frame, nowMs: self.nowMs)
    }
}

extension ServerConnectionStateMachine.Action {
    /// The frame this action sends, if any.
    var frame: ByteBuffer? {
        guard case .send(let outbound) = self else { return nil }
        return outbound.frame
    }

    /// The error code of an error frame this action sends, read without verification.
    var sentErrorCode: ErrorCode? {
        guard let frame = self.frame, let raw = try? RawFrame(frame), raw.header.type == MessageType.error.rawValue,
              case .error(let code, _)? = try? ServerMessage.decode(type: raw.header.type, body: raw.body)
        else { return nil }
        return ErrorCode(rawValue: code)
    }

    var closes: Bool {
        switch self {
        case .send(let outbound): outbound.closesConnection
        case .close: true
        case .checkThrottle, .perform, .none: false
        }
    }
}
