public import Crypto
public import NIOCore

/// What the server must do for an authenticated request. The state machine only decides;
/// the connection handler asks the ledger service and reports back with `requestCompleted`.
public enum ServerRequest: Hashable, Sendable {
    case register(username: String, password: String)
    case login(username: String, password: String)
    case logout(userID: Int64)
    case transfer(userID: Int64, username: String, transferID: String, recipient: String, amount: String)
    case balance(userID: Int64, username: String)
    case history(userID: Int64, username: String, beforePosition: UInt64?, limit: UInt16)
    case changePassword(userID: Int64, username: String, currentPassword: String, newPassword: String)
    case proof(userID: Int64, position: UInt64)
}

/// The frame a request arrived in, for the replay record.
public struct RequestContext: Hashable, Sendable {
    public let nonce: Nonce
    public let timestampMs: Int64

    public init(nonce: Nonce, timestampMs: Int64) {
        self.nonce = nonce
        self.timestampMs = timestampMs
    }
}

/// The ledger service's answer to a `ServerRequest`.
public enum RequestResult: Hashable, Sendable {
    /// Send this message (registered, transferred, balance, history, password changed).
    case reply(ServerMessage)
    /// The password was right: finish the login handshake.
    case loginSucceeded(userID: Int64, username: String, balance: String)
    case loggedOut
    case failed(ProtocolError)
}

/// The server side of one connection: authenticates every frame, runs the login handshake and
/// decides what to send. Pure: no sockets, no store, no clock of its own.
public struct ServerConnectionStateMachine: Sendable {
    /// Deployment secrets and policy shared by all connections.
    public struct Configuration: Sendable {
        public let clientKey: SymmetricKey
        public let preLoginKeys: TrafficKeys
        public let identityKey: Curve25519.Signing.PrivateKey
        public let replayWindowMs: Int64
        /// Failed logins on one connection before it is closed.
        public let maximumFailedLoginsPerConnection: Int

        public init(clientKey: SymmetricKey, identityKey: Curve25519.Signing.PrivateKey, replayWindowMs: Int64 = 120_000, maximumFailedLoginsPerConnection: Int = 3) {
            self.clientKey = clientKey
            self.preLoginKeys = KeySchedule.preLoginKeys(clientKey: clientKey)
            self.identityKey = identityKey
            self.replayWindowMs = replayWindowMs
            self.maximumFailedLoginsPerConnection = maximumFailedLoginsPerConnection
        }
    }

    /// What the connection handler does next.
    public enum Action: Sendable {
        /// Ask the ledger service, then call `requestCompleted`.
        case perform(ServerRequest, RequestContext)
        case send(ByteBuffer)
        case sendAndClose(ByteBuffer)
        case close
    }

    struct Anonymous: Sendable {
        var channel: FrameChannel
        let helloFrame: ByteBuffer
        var failedLogins: Int
    }

    struct PendingLogin: Sendable {
        let loginFrame: ByteBuffer
        let clientEphemeralKey: Curve25519.KeyAgreement.PublicKey
    }

    struct Session: Sendable {
        var channel: FrameChannel
        let userID: Int64
        let username: String
    }

    enum State: Sendable {
        case awaitingOpen
        case anonymous(Anonymous)
        case anonymousRequestInFlight(Anonymous, PendingLogin?)
        case authenticated(Session)
        case sessionRequestInFlight(Session)
        case closed
    }

    private let configuration: Configuration
    private let connectionID: ConnectionID
    private var state: State = .awaitingOpen
    /// The last error sent to the peer, for the audit trail.
    public private(set) var lastRejection: ProtocolError?

    public init(configuration: Configuration, connectionID: ConnectionID = .random()) {
        self.configuration = configuration
        self.connectionID = connectionID
    }

    /// The authenticated user, once logged in.
    public var authenticatedUserID: Int64? {
        switch self.state {
        case .authenticated(let session), .sessionRequestInFlight(let session): session.userID
        case .awaitingOpen, .anonymous, .anonymousRequestInFlight, .closed: nil
        }
    }

    /// The connection is open: greet the client with the connection id.
    public mutating func connectionOpened(nowMs: Int64) -> ByteBuffer {
        guard case .awaitingOpen = self.state else { preconditionFailure("connectionOpened called twice") }
        var channel = FrameChannel(
            connectionID: self.connectionID, sendDirection: .serverToClient,
            keys: self.configuration.preLoginKeys, replayWindowMs: self.configuration.replayWindowMs)
        let hello = ServerMessage.hello(connectionID: self.connectionID, replayWindowMs: UInt64(self.configuration.replayWindowMs))
        let frame = channel.seal(.hello, nowMs: nowMs, body: hello.encodeBody)
        self.state = .anonymous(Anonymous(channel: channel, helloFrame: frame, failedLogins: 0))
        return frame
    }

    /// A complete frame arrived. Frames are processed one at a time: the handler does not read
    /// the next frame until the previous request completed.
    public mutating func frameReceived(_ bytes: ByteBuffer, nowMs: Int64) -> Action {
        switch self.state {
        case .anonymous(var anonymous):
            let frame: RawFrame
            let message: ClientMessage
            do {
                frame = try anonymous.channel.open(bytes, nowMs: nowMs)
                message = try ClientMessage.decode(type: frame.header.type, body: frame.body)
            } catch {
                return self.fail(error, channel: &anonymous.channel, nowMs: nowMs)
            }
            let context = RequestContext(nonce: frame.header.nonce, timestampMs: frame.header.timestampMs)
            switch message {
            case .register(let username, let password):
                self.state = .anonymousRequestInFlight(anonymous, nil)
                return .perform(.register(username: username, password: password), context)
            case .login(let username, let password, let keyBytes):
                guard let key = try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: keyBytes) else {
                    return self.fail(ProtocolError(.malformedMessage, "ephemeral key is not an X25519 key"), channel: &anonymous.channel, nowMs: nowMs)
                }
                self.state = .anonymousRequestInFlight(anonymous, PendingLogin(loginFrame: bytes, clientEphemeralKey: key))
                return .perform(.login(username: username, password: password), context)
            case .logout, .transfer, .balance, .history, .changePassword, .proof:
                return self.fail(ProtocolError(.unexpectedMessage, "log in first"), channel: &anonymous.channel, nowMs: nowMs)
            }

        case .authenticated(var session):
            let frame: RawFrame
            let message: ClientMessage
            do {
                frame = try session.channel.open(bytes, nowMs: nowMs)
                message = try ClientMessage.decode(type: frame.header.type, body: frame.body)
            } catch {
                return self.fail(error, channel: &session.channel, nowMs: nowMs)
            }
            let context = RequestContext(nonce: frame.header.nonce, timestampMs: frame.header.timestampMs)
            let request: ServerRequest
            switch message {
            case .logout:
                request = .logout(userID: session.userID)
            case .transfer(let transferID, let recipient, let amount):
                request = .transfer(userID: session.userID, username: session.username, transferID: transferID, recipient: recipient, amount: amount)
            case .balance:
                request = .balance(userID: session.userID, username: session.username)
            case .history(let before, let limit):
                request = .history(userID: session.userID, username: session.username, beforePosition: before, limit: limit)
            case .changePassword(let current, let new):
                request = .changePassword(userID: session.userID, username: session.username, currentPassword: current, newPassword: new)
            case .proof(let position):
                request = .proof(userID: session.userID, position: position)
            case .register, .login:
                return self.fail(ProtocolError(.unexpectedMessage, "already logged in"), channel: &session.channel, nowMs: nowMs)
            }
            self.state = .sessionRequestInFlight(session)
            return .perform(request, context)

        case .closed:
            return .close
        case .awaitingOpen, .anonymousRequestInFlight, .sessionRequestInFlight:
            preconditionFailure("frameReceived while \(self.state)")
        }
    }

    /// The stream could not be split into frames (too large, too small): answer and close.
    public mutating func decodingFailed(_ error: ProtocolError, nowMs: Int64) -> Action {
        switch self.state {
        case .anonymous(var anonymous):
            return self.fail(error, channel: &anonymous.channel, nowMs: nowMs)
        case .authenticated(var session):
            return self.fail(error, channel: &session.channel, nowMs: nowMs)
        case .anonymousRequestInFlight(var anonymous, _):
            return self.fail(error, channel: &anonymous.channel, nowMs: nowMs)
        case .sessionRequestInFlight(var session):
            return self.fail(error, channel: &session.channel, nowMs: nowMs)
        case .awaitingOpen, .closed:
            self.state = .closed
            return .close
        }
    }

    /// The ledger service answered the request in flight.
    public mutating func requestCompleted(_ result: RequestResult, nowMs: Int64) -> Action {
        switch self.state {
        case .anonymousRequestInFlight(var anonymous, let pendingLogin):
            switch result {
            case .reply(let message):
                let frame = anonymous.channel.seal(message.type, nowMs: nowMs, body: message.encodeBody)
                self.state = .anonymous(anonymous)
                return .send(frame)
            case .loginSucceeded(let userID, let username, let balance):
                guard let pendingLogin else { preconditionFailure("login result without a login request") }
                return self.finishLogin(anonymous, pendingLogin, userID: userID, username: username, balance: balance, nowMs: nowMs)
            case .failed(let error):
                if pendingLogin != nil, error.code == .invalidCredentials {
                    anonymous.failedLogins += 1
                    if anonymous.failedLogins >= self.configuration.maximumFailedLoginsPerConnection {
                        let frame = self.errorFrame(error, channel: &anonymous.channel, nowMs: nowMs)
                        self.state = .closed
                        return .sendAndClose(frame)
                    }
                }
                let frame = self.errorFrame(error, channel: &anonymous.channel, nowMs: nowMs)
                guard !error.code.closesConnection else {
                    self.state = .closed
                    return .sendAndClose(frame)
                }
                self.state = .anonymous(anonymous)
                return .send(frame)
            case .loggedOut:
                preconditionFailure("logout result on an anonymous connection")
            }
        case .sessionRequestInFlight(var session):
            switch result {
            case .reply(let message):
                let frame = session.channel.seal(message.type, nowMs: nowMs, body: message.encodeBody)
                self.state = .authenticated(session)
                return .send(frame)
            case .loggedOut:
                let frame = session.channel.seal(.loggedOut, nowMs: nowMs, body: ServerMessage.loggedOut.encodeBody)
                self.state = .closed
                return .sendAndClose(frame)
            case .failed(let error):
                let frame = self.errorFrame(error, channel: &session.channel, nowMs: nowMs)
                guard !error.code.closesConnection else {
                    self.state = .closed
                    return .sendAndClose(frame)
                }
                self.state = .authenticated(session)
                return .send(frame)
            case .loginSucceeded:
                preconditionFailure("login result on an authenticated connection")
            }
        case .awaitingOpen, .anonymous, .authenticated, .closed:
            preconditionFailure("requestCompleted without a request in flight")
        }
    }

    private mutating func finishLogin(_ anonymous: Anonymous, _ pending: PendingLogin, userID: Int64, username: String, balance: String, nowMs: Int64) -> Action {
        var channel = anonymous.channel
        let ephemeral = Curve25519.KeyAgreement.PrivateKey()
        let ephemeralPublic = Array(ephemeral.publicKey.rawRepresentation)
        let transcript = KeySchedule.transcriptHash(helloFrame: anonymous.helloFrame, loginFrame: pending.loginFrame, serverEphemeralPublicKey: ephemeralPublic)
        guard let shared = try? ephemeral.sharedSecretFromKeyAgreement(with: pending.clientEphemeralKey),
              let signature = try? self.configuration.identityKey.signature(for: KeySchedule.signaturePayload(transcriptHash: transcript))
        else {
            return self.fail(ProtocolError(.malformedMessage, "ephemeral key is not usable"), channel: &channel, nowMs: nowMs)
        }
        channel.rekey(KeySchedule.sessionKeys(sharedSecret: shared, transcriptHash: transcript))
        let message = ServerMessage.loggedIn(username: username, balance: balance, ephemeralPublicKey: ephemeralPublic, signature: Array(signature))
        let frame = channel.seal(.loggedIn, nowMs: nowMs, body: message.encodeBody)
        self.state = .authenticated(Session(channel: channel, userID: userID, username: username))
        return .send(frame)
    }

    private mutating func fail(_ error: any Error, channel: inout FrameChannel, nowMs: Int64) -> Action {
        let protocolError = error as? ProtocolError ?? ProtocolError(.malformedFrame, "frame rejected")
        let frame = self.errorFrame(protocolError, channel: &channel, nowMs: nowMs)
        self.state = .closed
        return .sendAndClose(frame)
    }

    private mutating func errorFrame(_ error: ProtocolError, channel: inout FrameChannel, nowMs: Int64) -> ByteBuffer {
        self.lastRejection = error
        return Self.errorFrame(error, channel: &channel, nowMs: nowMs)
    }

    private static func errorFrame(_ error: ProtocolError, channel: inout FrameChannel, nowMs: Int64) -> ByteBuffer {
        let message = ServerMessage.error(code: error.code.rawValue, message: error.message)
        return channel.seal(.error, nowMs: nowMs, body: message.encodeBody)
    }
}
