public import Crypto
public import NIOCore

/// The server side of one connection, as a pure state machine: it authenticates every frame,
/// runs the login key exchange, keeps the session's limits, and decides what to send. Every input
/// (a frame, a frame the decoder refused, the login throttle's verdict, a request's result, the
/// server shutting down, the session timer) is a `mutating func` that returns the one `Action`
/// the connection handler carries out. No sockets, no store, no clock and no randomness of its
/// own: time is passed in and random values come from the injected `RandomSource`.
///
/// One phase at a time (docs/PROTOCOL.md 7): the handshake (before login: `register`, `login`),
/// a pending login (the key exchange done, the password being checked), and the session. A
/// session is built only from a pending login, which holds the keys it needs.
public struct ServerConnectionStateMachine: Sendable {
    /// Per-connection limits.
    public struct Limits: Sendable {
        /// Failed logins on one connection before it is closed.
        public var maximumFailedLoginsPerConnection = 3
        /// Wrong current passwords in `change_password` before the session is closed.
        public var maximumFailedPasswordChecksPerSession = 3
        /// Requests per second one session may make (sustained), and in a burst.
        public var requestsPerSecond = 1_000
        public var requestBurst = 2_000
        /// Transfers answered `unknown_recipient` per minute (and in a burst): probing for names.
        public var unknownRecipientsPerMinute = 10
        /// A session ends this long after login, whatever it does.
        public var sessionLifetimeMs: Int64 = 12 * 3_600_000
        /// The largest frame the server sends: the limit every client accepts.
        public var maximumOutboundFrameBytes = FrameFormat.defaultMaximumFrameBytes

        public init() {}
    }

    /// Deployment secrets and policy shared by all connections.
    public struct Configuration: Sendable {
        public let preLoginKeys: TrafficKeys
        public let identityKey: Curve25519.Signing.PrivateKey
        public let replayWindowMs: Int64
        public var limits: Limits

        public init(clientKey: SymmetricKey, identityKey: Curve25519.Signing.PrivateKey, replayWindowMs: Int64 = 120_000, limits: Limits = Limits()) {
            self.preLoginKeys = KeySchedule.preLoginKeys(clientKey: clientKey)
            self.identityKey = identityKey
            self.replayWindowMs = replayWindowMs
            self.limits = limits
        }
    }

    /// What the connection handler records after sending a frame: the audit trail, the login
    /// throttle and metrics.
    public struct Report: Sendable {
        /// The request answered; nil when the frame itself was refused.
        public let request: ServerRequest?
        /// The refusal sent; nil for a successful answer.
        public let error: ProtocolError?
        /// How the shared login throttle counts the attempt, when it was asked.
        public let throttle: ThrottleRecord?
        /// The answer sent, when it was not an error.
        public let message: ServerMessage?
    }

    /// A throttled attempt and how it ended.
    public struct ThrottleRecord: Hashable, Sendable {
        public let query: ThrottleQuery
        public let outcome: ThrottleOutcome
    }

    /// A frame to write.
    public struct Outbound: Sendable {
        public let frame: ByteBuffer
        /// Close the connection once the frame is written.
        public let closesConnection: Bool
        public let report: Report?
        /// A session began: call `timerFired` at this instant (milliseconds since the epoch).
        public let sessionDeadlineMs: Int64?
    }

    /// What the connection handler does next.
    public enum Action: Sendable {
        case send(Outbound)
        /// Ask the shared login throttle, then call `throttleDecided`.
        case checkThrottle(ThrottleQuery)
        /// Ask the ledger service, then call `requestCompleted`.
        case perform(ServerRequest, RequestContext)
        case close
        /// Nothing to do.
        case none
    }

    /// Where a request in flight is.
    enum Stage: Sendable {
        case awaitingThrottle
        case performing
    }

    enum State: Sendable {
        case idle
        case handshake(HandshakeState)
        case registering(HandshakeState, ServerRequest, RequestContext, Stage)
        case loginPending(LoginPendingState, ServerRequest, Stage)
        case session(SessionState)
        case sessionRequest(SessionState, ServerRequest, RequestContext, Stage)
        case closed
    }

    private let configuration: Configuration
    private var random: any RandomSource
    private var state: State = .idle
    private var shuttingDown = false

    public init(configuration: Configuration, random: any RandomSource = SystemRandomSource()) {
        self.configuration = configuration
        self.random = random
    }

    private var limits: Limits { self.configuration.limits }

    /// The logged-in customer, once logged in.
    public var session: SessionIdentity? {
        switch self.state {
        case .session(let session), .sessionRequest(let session, _, _, _): session.identity
        case .idle, .handshake, .registering, .loginPending, .closed: nil
        }
    }

    // MARK: Inputs

    /// Authenticates a frame (docs/PROTOCOL.md 6) and decodes its request.
    private static func open(_ bytes: ByteBuffer, channel: inout FrameChannel, nowMs: Int64) -> Result<(ClientMessage, RequestContext), ProtocolError> {
        do throws(ProtocolError) {
            let frame = try channel.open(bytes, nowMs: nowMs)
            let message = try ClientMessage.decode(type: frame.header.type, body: frame.body)
            return .success((message, RequestContext(nonce: frame.header.nonce, timestampMs: frame.header.timestampMs)))
        } catch {
            return .failure(error)
        }
    }

    /// The connection is open: greet the client with a fresh connection id.
    public mutating func connectionOpened(nowMs: Int64) -> Action {
        guard case .idle = self.state else { preconditionFailure("connectionOpened called twice") }
        let connectionID = self.random.connectionID()
        var channel = FrameChannel(
            connectionID: connectionID, sendDirection: .serverToClient,
            keys: self.configuration.preLoginKeys, replayWindowMs: self.configuration.replayWindowMs)
        let hello = ServerMessage.hello(connectionID: connectionID, replayWindowMs: UInt64(self.configuration.replayWindowMs))
        guard let frame = try? channel.seal(.hello, nowMs: nowMs, nonce: self.random.nonce(), body: hello.encodeBody) else {
            self.state = .closed
            return .close
        }
        self.state = .handshake(HandshakeState(channel: channel, helloFrame: frame, failedLogins: 0))
        return .send(Outbound(frame: frame, closesConnection: false, report: nil, sessionDeadlineMs: nil))
    }

    /// A complete frame arrived. The handler reads the next frame only once the previous
    /// request was answered: requests are taken strictly one at a time.
    public mutating func frameReceived(_ bytes: ByteBuffer, nowMs: Int64) -> Action {
        switch self.state {
        case .handshake(var handshake):
            switch Self.open(bytes, channel: &handshake.channel, nowMs: nowMs) {
            case .success(let (message, context)):
                return self.handshakeRequested(message, frame: bytes, context: context, handshake: handshake, nowMs: nowMs)
            case .failure(let error):
                return self.refuseFrame(error, channel: &handshake.channel, nowMs: nowMs)
            }

        case .session(var session):
            if nowMs >= session.deadlineMs {
                return self.endSession(&session, ProtocolError(.sessionEnded, "the session has expired; log in again"), nowMs: nowMs)
            }
            switch Self.open(bytes, channel: &session.channel, nowMs: nowMs) {
            case .success(let (message, context)):
                return self.sessionRequested(message, context: context, session: session, nowMs: nowMs)
            case .failure(let error):
                return self.refuseFrame(error, channel: &session.channel, nowMs: nowMs)
            }

        case .closed:
            return .none
        case .idle, .registering, .loginPending, .sessionRequest:
            preconditionFailure("frameReceived while \(self.state): requests are taken one at a time")
        }
    }

    /// The stream could not be split into frames (too large, too small, too slow): answer and close.
    public mutating func decodingFailed(_ error: ProtocolError, nowMs: Int64) -> Action {
        switch self.state {
        case .handshake(var handshake):
            return self.refuseFrame(error, channel: &handshake.channel, nowMs: nowMs)
        case .session(var session):
            return self.refuseFrame(error, channel: &session.channel, nowMs: nowMs)
        case .registering(var handshake, _, _, _):
            return self.refuseFrame(error, channel: &handshake.channel, nowMs: nowMs)
        case .loginPending(var pending, _, _):
            return self.refuseFrame(error, channel: &pending.handshake.channel, nowMs: nowMs)
        case .sessionRequest(var session, _, _, _):
            return self.refuseFrame(error, channel: &session.channel, nowMs: nowMs)
        case .idle, .closed:
            self.state = .closed
            return .close
        }
    }

    /// The shared login throttle answered the question of `.checkThrottle`.
    public mutating func throttleDecided(_ verdict: ThrottleVerdict, nowMs: Int64) -> Action {
        switch self.state {
        case .registering(var handshake, let request, let context, .awaitingThrottle):
            switch verdict {
            case .allowed:
                self.state = .registering(handshake, request, context, .performing)
                return .perform(request, context)
            case .throttled, .busy:
                let error = Self.refusal(verdict)
                let outbound = self.answer(error: error, request: request, throttle: nil, channel: &handshake.channel, nowMs: nowMs)
                self.state = outbound.closesConnection ? .closed : .handshake(handshake)
                return .send(outbound)
            }
        case .loginPending(let pending, let request, .awaitingThrottle):
            switch verdict {
            case .allowed:
                self.state = .loginPending(pending, request, .performing)
                return .perform(request, pending.context)
            case .throttled, .busy:
                var handshake = pending.handshake
                let outbound = self.answer(error: Self.refusal(verdict), request: request, throttle: nil, channel: &handshake.channel, nowMs: nowMs)
                self.state = outbound.closesConnection ? .closed : .handshake(handshake)
                return .send(outbound)
            }
        case .sessionRequest(var session, let request, let context, .awaitingThrottle):
            switch verdict {
            case .allowed:
                self.state = .sessionRequest(session, request, context, .performing)
                return .perform(request, context)
            case .throttled, .busy:
                let outbound = self.answer(error: Self.refusal(verdict), request: request, throttle: nil, channel: &session.channel, nowMs: nowMs)
                self.state = outbound.closesConnection ? .closed : .session(session)
                return .send(outbound)
            }
        case .idle, .handshake, .registering, .loginPending, .session, .sessionRequest, .closed:
            preconditionFailure("throttleDecided without a throttle question")
        }
    }

    /// The ledger service answered the request of `.perform`.
    public mutating func requestCompleted(_ result: RequestResult, nowMs: Int64) -> Action {
        switch self.state {
        case .registering(var handshake, let request, _, .performing):
            let outbound: Outbound
            switch result {
            case .reply(let message):
                outbound = self.answer(message, request: request, throttle: nil, channel: &handshake.channel, nowMs: nowMs)
            case .failed(let error):
                outbound = self.answer(error: error, request: request, throttle: nil, channel: &handshake.channel, nowMs: nowMs)
            case .loginSucceeded, .passwordChanged, .loggedOut:
                preconditionFailure("\(result) answers no registration")
            }
            self.state = outbound.closesConnection ? .closed : .handshake(handshake)
            return .send(outbound)

        case .loginPending(let pending, let request, .performing):
            return self.loginCompleted(pending, request: request, result: result, nowMs: nowMs)

        case .sessionRequest(let session, let request, _, .performing):
            return self.sessionRequestCompleted(session, request: request, result: result, nowMs: nowMs)

        case .idle, .handshake, .registering, .loginPending, .session, .sessionRequest, .closed:
            preconditionFailure("requestCompleted without a request in flight")
        }
    }

    /// The server began to shut down: new requests are answered `server_busy` (retryable).
    public mutating func shutdownBegan() -> Action {
        self.shuttingDown = true
        return .none
    }

    /// The session timer armed by `Outbound.sessionDeadlineMs` fired.
    public mutating func timerFired(nowMs: Int64) -> Action {
        guard case .session(var session) = self.state, nowMs >= session.deadlineMs else { return .none }
        return self.endSession(&session, ProtocolError(.sessionEnded, "the session has expired; log in again"), nowMs: nowMs)
    }

    // MARK: The handshake

    private mutating func handshakeRequested(_ message: ClientMessage, frame: ByteBuffer, context: RequestContext, handshake: HandshakeState, nowMs: Int64) -> Action {
        var handshake = handshake
        switch message {
        case .register(let username, let password):
            let request = ServerRequest.register(username: username, password: password)
            if self.shuttingDown { return self.answerBusy(request, handshake: handshake, nowMs: nowMs) }
            self.state = .registering(handshake, request, context, .awaitingThrottle)
            return .checkThrottle(.registration)
        case .login(let username, let password, let clientKey, let deviceToken):
            let request = ServerRequest.login(username: username, password: password)
            if self.shuttingDown { return self.answerBusy(request, handshake: handshake, nowMs: nowMs) }
            let pending: LoginPendingState
            do {
                pending = try LoginPendingState(
                    handshake: handshake, loginFrame: frame, context: context, account: username, deviceToken: deviceToken,
                    clientEphemeralPublicKey: clientKey, serverEphemeralKey: self.random.agreementKey())
            } catch {
                return self.refuseFrame(error, channel: &handshake.channel, nowMs: nowMs)
            }
            self.state = .loginPending(pending, request, .awaitingThrottle)
            return .checkThrottle(.login(account: username, deviceToken: deviceToken))
        case .logout, .transfer, .balance, .history, .changePassword, .proof, .treeProof:
            return self.refuseFrame(ProtocolError(.unexpectedMessage, "log in first"), channel: &handshake.channel, nowMs: nowMs)
        }
    }

    private mutating func answerBusy(_ request: ServerRequest, handshake: HandshakeState, nowMs: Int64) -> Action {
        var handshake = handshake
        let outbound = self.answer(error: Self.shuttingDownError, request: request, throttle: nil, channel: &handshake.channel, nowMs: nowMs)
        self.state = .handshake(handshake)
        return .send(outbound)
    }

    private mutating func loginCompleted(_ pending: LoginPendingState, request: ServerRequest, result: RequestResult, nowMs: Int64) -> Action {
        let query = ThrottleQuery.login(account: pending.account, deviceToken: pending.deviceToken)
        switch result {
        case .loginSucceeded(let grant):
            var session = SessionState(pending: pending, grant: grant, limits: self.limits, nowMs: nowMs)
            guard let signature = try? self.configuration.identityKey.signature(for: KeySchedule.signaturePayload(transcriptHash: pending.transcriptHash)) else {
                var handshake = pending.handshake
                let outbound = self.answer(error: Self.internalError, request: request, throttle: nil, channel: &handshake.channel, nowMs: nowMs)
                self.state = .closed
                return .send(outbound)
            }
            let message = ServerMessage.loggedIn(
                username: grant.identity.username, balance: grant.balance, ephemeralPublicKey: pending.serverEphemeralPublicKey,
                signature: Array(signature), deviceToken: grant.deviceToken)
            let record = ThrottleRecord(query: query, outcome: .succeeded)
            let outbound = self.answer(message, request: request, throttle: record, channel: &session.channel, nowMs: nowMs, sessionDeadlineMs: session.deadlineMs)
            self.state = outbound.closesConnection ? .closed : .session(session)
            return .send(outbound)
        case .failed(let error):
            var handshake = pending.handshake
            let wrong = error.code == .invalidCredentials
            if wrong { handshake.failedLogins += 1 }
            let record = ThrottleRecord(query: query, outcome: wrong ? .wrongCredentials : .notChecked)
            let closes = wrong && handshake.failedLogins >= self.limits.maximumFailedLoginsPerConnection
            let outbound = self.answer(error: error, request: request, throttle: record, channel: &handshake.channel, nowMs: nowMs, close: closes)
            self.state = outbound.closesConnection ? .closed : .handshake(handshake)
            return .send(outbound)
        case .reply, .passwordChanged, .loggedOut:
            preconditionFailure("\(result) answers no login")
        }
    }

    // MARK: The session

    private mutating func sessionRequested(_ message: ClientMessage, context: RequestContext, session: SessionState, nowMs: Int64) -> Action {
        var session = session
        let identity = session.identity
        let request: ServerRequest
        switch message {
        case .logout:
            request = .logout(identity)
        case .transfer(let transferID, let recipient, let amount):
            request = .transfer(identity, transferID: transferID, recipient: recipient, amount: amount)
        case .balance:
            request = .balance(identity)
        case .history(let before, let limit):
            request = .history(identity, beforePosition: before, limit: limit)
        case .changePassword(let current, let new):
            request = .changePassword(identity, currentPassword: current, newPassword: new)
        case .proof(let position):
            request = .proof(identity, position: position)
        case .treeProof(let position, let fromTreeSize):
            request = .treeProof(identity, position: position, fromTreeSize: fromTreeSize)
        case .register, .login:
            return self.refuseFrame(ProtocolError(.unexpectedMessage, "already logged in"), channel: &session.channel, nowMs: nowMs)
        }
        let refusal: ProtocolError?
        if self.shuttingDown {
            refusal = Self.shuttingDownError
        } else if !session.rate.admit(nowMs: nowMs) {
            refusal = ProtocolError(.rateLimited, "more than \(self.limits.requestsPerSecond) requests per second; slow down")
        } else if case .transfer = request, !session.probes.wouldAdmit(nowMs: nowMs) {
            refusal = ProtocolError(.rateLimited, "too many transfers to names that do not exist; slow down")
        } else {
            refusal = nil
        }
        if let refusal {
            let outbound = self.answer(error: refusal, request: request, throttle: nil, channel: &session.channel, nowMs: nowMs)
            self.state = outbound.closesConnection ? .closed : .session(session)
            return .send(outbound)
        }
        if case .changePassword = request {
            self.state = .sessionRequest(session, request, context, .awaitingThrottle)
            return .checkThrottle(.passwordCheck(account: identity.username, deviceToken: session.deviceToken))
        }
        self.state = .sessionRequest(session, request, context, .performing)
        return .perform(request, context)
    }

    private mutating func sessionRequestCompleted(_ session: SessionState, request: ServerRequest, result: RequestResult, nowMs: Int64) -> Action {
        var session = session
        let passwordQuery = ThrottleQuery.passwordCheck(account: session.identity.username, deviceToken: session.deviceToken)
        let outbound: Outbound
        switch result {
        case .reply(let message):
            outbound = self.answer(message, request: request, throttle: nil, channel: &session.channel, nowMs: nowMs)
        case .passwordChanged(let credentialVersion):
            let identity = session.identity
            session.identity = SessionIdentity(userID: identity.userID, username: identity.username, credentialVersion: credentialVersion)
            outbound = self.answer(
                .passwordChanged, request: request, throttle: ThrottleRecord(query: passwordQuery, outcome: .succeeded), channel: &session.channel, nowMs: nowMs)
        case .loggedOut:
            outbound = self.answer(.loggedOut, request: request, throttle: nil, channel: &session.channel, nowMs: nowMs, close: true)
        case .failed(let error):
            var record: ThrottleRecord? = nil
            var closes = false
            switch request {
            case .changePassword:
                let wrong = error.code == .invalidCredentials
                record = ThrottleRecord(query: passwordQuery, outcome: wrong ? .wrongCredentials : .notChecked)
                if wrong {
                    session.failedPasswordChecks += 1
                    closes = session.failedPasswordChecks >= self.limits.maximumFailedPasswordChecksPerSession
                }
            case .transfer where error.code == .unknownRecipient:
                _ = session.probes.admit(nowMs: nowMs)
            case .register, .login, .logout, .transfer, .balance, .history, .proof, .treeProof:
                break
            }
            outbound = self.answer(error: error, request: request, throttle: record, channel: &session.channel, nowMs: nowMs, close: closes)
        case .loginSucceeded:
            preconditionFailure("a login result on a session")
        }
        self.state = outbound.closesConnection ? .closed : .session(session)
        return .send(outbound)
    }

    private mutating func endSession(_ session: inout SessionState, _ error: ProtocolError, nowMs: Int64) -> Action {
        let outbound = self.answer(error: error, request: nil, throttle: nil, channel: &session.channel, nowMs: nowMs, close: true)
        self.state = .closed
        return .send(outbound)
    }

    // MARK: Frames out

    /// An error message cut to what clients read (`FieldLimits.errorMessageBytes`), at a
    /// character boundary.
    static func bounded(_ text: String) -> String {
        guard text.utf8.count > FieldLimits.errorMessageBytes else { return text }
        var result = ""
        for character in text {
            guard result.utf8.count + character.utf8.count <= FieldLimits.errorMessageBytes else { break }
            result.append(character)
        }
        return result
    }

    private static let shuttingDownError = ProtocolError(.serverBusy, "the server is shutting down; retry shortly")
    private static let internalError = ProtocolError(.internalError, "internal error")

    private static func refusal(_ verdict: ThrottleVerdict) -> ProtocolError {
        switch verdict {
        case .throttled(let retryAfterMs):
            ProtocolError(.tooManyAttempts, "too many attempts; try again in \(max(1, (retryAfterMs + 999) / 1000)) s")
        case .busy:
            ProtocolError(.serverBusy, "too many password checks are waiting; try again shortly")
        case .allowed:
            preconditionFailure("allowed is no refusal")
        }
    }

    /// The frame of a refused frame: the error, then the connection closes.
    private mutating func refuseFrame(_ error: any Error, channel: inout FrameChannel, nowMs: Int64) -> Action {
        let protocolError = error as? ProtocolError ?? ProtocolError(.malformedFrame, "frame rejected")
        let outbound = self.answer(error: protocolError, request: nil, throttle: nil, channel: &channel, nowMs: nowMs, close: true)
        self.state = .closed
        return .send(outbound)
    }

    /// A reply. One that can't be sent within the outbound limit is replaced by `internal_error`
    /// (which closes the connection); nothing here traps on what the service returns.
    private mutating func answer(
        _ message: ServerMessage, request: ServerRequest?, throttle: ThrottleRecord?, channel: inout FrameChannel, nowMs: Int64,
        sessionDeadlineMs: Int64? = nil, close: Bool = false
    ) -> Outbound {
        do {
            let frame = try channel.seal(
                message.type, nowMs: nowMs, nonce: self.random.nonce(), maximumFrameBytes: self.limits.maximumOutboundFrameBytes, body: message.encodeBody)
            return Outbound(
                frame: frame, closesConnection: close, report: Report(request: request, error: nil, throttle: throttle, message: message),
                sessionDeadlineMs: sessionDeadlineMs)
        } catch {
            return self.answer(error: Self.internalError, request: request, throttle: throttle, channel: &channel, nowMs: nowMs)
        }
    }

    /// An error reply; it closes the connection when its code says so (or `close`).
    private mutating func answer(
        error: ProtocolError, request: ServerRequest?, throttle: ThrottleRecord?, channel: inout FrameChannel, nowMs: Int64, close: Bool = false
    ) -> Outbound {
        let message = ServerMessage.error(code: error.code.rawValue, message: Self.bounded(error.message))
        let report = Report(request: request, error: error, throttle: throttle, message: nil)
        let closes = close || error.code.closesConnection
        guard let frame = try? channel.seal(.error, nowMs: nowMs, nonce: self.random.nonce(), body: message.encodeBody) else {
            // An error message is at most 1024 bytes: this is unreachable, but never a trap.
            self.state = .closed
            return Outbound(frame: ByteBuffer(), closesConnection: true, report: report, sessionDeadlineMs: nil)
        }
        return Outbound(frame: frame, closesConnection: closes, report: report, sessionDeadlineMs: nil)
    }
}
