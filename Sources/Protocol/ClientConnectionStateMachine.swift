public import Crypto
public import NIOCore

/// The client side of one connection: verifies every server frame exactly as the server verifies
/// the client's, checks the server's identity signature at login and switches to session keys.
/// Pure: no sockets, no clock and no randomness of its own (`RandomSource`). A reply it returns
/// has been authenticated.
public struct ClientConnectionStateMachine: Sendable {
    /// The deployment's client key and the pinned server identity.
    public struct Configuration: Sendable {
        public let preLoginKeys: TrafficKeys
        public let serverIdentityKey: Curve25519.Signing.PublicKey
        public let replayWindowMs: Int64

        public init(clientKey: SymmetricKey, serverIdentityKey: Curve25519.Signing.PublicKey, replayWindowMs: Int64 = 120_000) {
            self.preLoginKeys = KeySchedule.preLoginKeys(clientKey: clientKey)
            self.serverIdentityKey = serverIdentityKey
            self.replayWindowMs = replayWindowMs
        }
    }

    struct Anonymous: Sendable {
        var channel: FrameChannel
        let helloFrame: ByteBuffer
    }

    struct PendingLogin: Sendable {
        let ephemeralKey: Curve25519.KeyAgreement.PrivateKey
        let loginFrame: ByteBuffer
    }

    enum State: Sendable {
        case awaitingHello
        case anonymous(Anonymous)
        case awaitingAnonymousReply(Anonymous, expected: MessageType, PendingLogin?)
        case authenticated(FrameChannel)
        case awaitingSessionReply(FrameChannel, expected: MessageType)
        case closed
    }

    private let configuration: Configuration
    private var random: any RandomSource
    private var state: State = .awaitingHello

    /// The current state, for tests that play a misbehaving client.
    var stateForTesting: State { self.state }

    public init(configuration: Configuration, random: any RandomSource = SystemRandomSource()) {
        self.configuration = configuration
        self.random = random
    }

    /// Whether the session keys are in use.
    public var isAuthenticated: Bool {
        switch self.state {
        case .authenticated, .awaitingSessionReply: true
        case .awaitingHello, .anonymous, .awaitingAnonymousReply, .closed: false
        }
    }

    /// Whether a request can be sent now.
    public var isReady: Bool {
        switch self.state {
        case .anonymous, .authenticated: true
        case .awaitingHello, .awaitingAnonymousReply, .awaitingSessionReply, .closed: false
        }
    }

    /// Whether the connection can never be used again: the server closed it, or a reply failed
    /// its checks.
    public var isClosed: Bool {
        if case .closed = self.state { return true }
        return false
    }

    /// The transport failed or the server closed the connection: nothing more can be sent.
    public mutating func connectionLost() {
        self.state = .closed
    }

    /// Verifies the server's greeting and binds the connection to the id it announces.
    public mutating func helloReceived(_ bytes: ByteBuffer, nowMs: Int64) throws(ProtocolError) {
        guard case .awaitingHello = self.state else { preconditionFailure("hello already received") }
        self.state = .closed
        let raw = try RawFrame(bytes)
        guard raw.header.type == MessageType.hello.rawValue,
              case .hello(let connectionID, _) = try ServerMessage.decode(type: raw.header.type, body: raw.body)
        else {
            throw ProtocolError(.unexpectedMessage, "the server did not start with hello")
        }
        var channel = FrameChannel(
            connectionID: connectionID, sendDirection: .clientToServer,
            keys: self.configuration.preLoginKeys, replayWindowMs: self.configuration.replayWindowMs)
        _ = try channel.open(bytes, nowMs: nowMs)
        self.state = .anonymous(Anonymous(channel: channel, helloFrame: bytes))
    }

    /// Builds the login frame with a fresh ephemeral X25519 key, presenting the device token of
    /// an earlier login of this account if the client kept one. Throws if the fields do not fit
    /// a frame (nothing is sent).
    public mutating func makeLogin(username: String, password: String, deviceToken: [UInt8]? = nil, nowMs: Int64) throws(ProtocolError) -> ByteBuffer {
        guard case .anonymous(var anonymous) = self.state else { preconditionFailure("login needs an anonymous, idle connection") }
        let ephemeral = self.random.agreementKey()
        let message = ClientMessage.login(
            username: username, password: password, ephemeralPublicKey: Array(ephemeral.publicKey.rawRepresentation), deviceToken: deviceToken)
        let frame = try anonymous.channel.seal(.login, nowMs: nowMs, nonce: self.random.nonce(), body: message.encodeBody)
        self.state = .awaitingAnonymousReply(anonymous, expected: .loggedIn, PendingLogin(ephemeralKey: ephemeral, loginFrame: frame))
        return frame
    }

    /// Builds the frame for any request but login. Throws if the fields do not fit a frame
    /// (nothing is sent, and the connection stays as it was). The caller checks `isClosed`
    /// first: a request on a closed connection, or a second one before the reply, is a
    /// programmer error.
    public mutating func makeRequest(_ message: ClientMessage, nowMs: Int64) throws(ProtocolError) -> ByteBuffer {
        let expected: MessageType
        switch message {
        case .register: expected = .registered
        case .logout: expected = .loggedOut
        case .transfer: expected = .transferred
        case .balance: expected = .balanceReport
        case .history: expected = .historyPage
        case .changePassword: expected = .passwordChanged
        case .proof: expected = .inclusionProof
        case .treeProof: expected = .treeProofs
        case .login: preconditionFailure("use makeLogin")
        }
        switch self.state {
        case .anonymous(var anonymous):
            let frame = try anonymous.channel.seal(message.type, nowMs: nowMs, nonce: self.random.nonce(), body: message.encodeBody)
            self.state = .awaitingAnonymousReply(anonymous, expected: expected, nil)
            return frame
        case .authenticated(var channel):
            let frame = try channel.seal(message.type, nowMs: nowMs, nonce: self.random.nonce(), body: message.encodeBody)
            self.state = .awaitingSessionReply(channel, expected: expected)
            return frame
        case .awaitingHello, .awaitingAnonymousReply, .awaitingSessionReply, .closed:
            preconditionFailure("one request at a time, on an open connection")
        }
    }

    /// Authenticates the server's reply. Returns the expected message or a verified `.error`;
    /// throws if the frame can't be trusted, after which the connection is unusable.
    public mutating func replyReceived(_ bytes: ByteBuffer, nowMs: Int64) throws(ProtocolError) -> ServerMessage {
        let state = self.state
        self.state = .closed
        switch state {
        case .awaitingAnonymousReply(var anonymous, let expected, let pendingLogin):
            let raw = try RawFrame(bytes)
            if let pendingLogin, raw.header.type == MessageType.loggedIn.rawValue {
                return try self.finishLogin(raw, anonymous: anonymous, pending: pendingLogin, nowMs: nowMs)
            }
            let message = try Self.open(bytes, channel: &anonymous.channel, expected: expected, nowMs: nowMs)
            if case .error(let code, _) = message, ErrorCode(rawValue: code)?.closesConnection ?? true {
                return message
            }
            self.state = .anonymous(anonymous)
            return message
        case .awaitingSessionReply(var channel, let expected):
            let message = try Self.open(bytes, channel: &channel, expected: expected, nowMs: nowMs)
            if case .transferred(let confirmation) = message, !Receipt.isValid(confirmation, identity: self.configuration.serverIdentityKey) {
                throw ProtocolError(.authenticationFailed, "the transfer receipt is not signed by the pinned server")
            }
            switch message {
            case .loggedOut:
                return message
            case .error(let code, _) where ErrorCode(rawValue: code)?.closesConnection ?? true:
                return message
            default:
                self.state = .authenticated(channel)
                return message
            }
        case .awaitingHello, .anonymous, .authenticated, .closed:
            throw ProtocolError(.unexpectedMessage, "the server sent a frame that answers no request")
        }
    }

    private static func open(_ bytes: ByteBuffer, channel: inout FrameChannel, expected: MessageType, nowMs: Int64) throws(ProtocolError) -> ServerMessage {
        let frame = try channel.open(bytes, nowMs: nowMs)
        let message = try ServerMessage.decode(type: frame.header.type, body: frame.body)
        guard message.type == expected || message.type == .error else {
            throw ProtocolError(.unexpectedMessage, "the server answered with \(message.type) where \(expected) was expected")
        }
        return message
    }

    private mutating func finishLogin(_ raw: RawFrame, anonymous: Anonymous, pending: PendingLogin, nowMs: Int64) throws(ProtocolError) -> ServerMessage {
        // The body is read before the MAC can be checked, because the MAC key comes from it;
        // nothing is trusted until the signature and then the MAC under the new key verify.
        let message = try ServerMessage.decode(type: raw.header.type, body: raw.body)
        guard case .loggedIn(_, _, let serverEphemeral, let signature, _) = message else {
            preconditionFailure("decode returned another type")
        }
        let transcript = KeySchedule.transcriptHash(helloFrame: anonymous.helloFrame, loginFrame: pending.loginFrame, serverEphemeralPublicKey: serverEphemeral)
        guard self.configuration.serverIdentityKey.isValidSignature(signature, for: KeySchedule.signaturePayload(transcriptHash: transcript)) else {
            throw ProtocolError(.authenticationFailed, "the server's identity signature is not valid: not the pinned server")
        }
        guard let shared = try? KeySchedule.sharedSecret(pending.ephemeralKey, peerPublicKey: serverEphemeral) else {
            throw ProtocolError(.authenticationFailed, "the server's ephemeral key is not usable")
        }
        var channel = anonymous.channel
        channel.rekey(KeySchedule.sessionKeys(sharedSecret: shared, transcriptHash: transcript))
        _ = try channel.open(raw.bytes, nowMs: nowMs)
        self.state = .authenticated(channel)
        return message
    }
}
