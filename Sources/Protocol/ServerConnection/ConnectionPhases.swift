import Crypto
import NIOCore

/// Before login: frames are sealed with the pre-login keys; `register` and `login` are allowed.
struct HandshakeState: Sendable {
    var channel: FrameChannel
    /// The exact `hello` frame, for the login transcript.
    let helloFrame: ByteBuffer
    /// Failed logins on this connection so far.
    var failedLogins: Int
}

/// A login whose password is being checked. The key exchange is already done (a key share that
/// does not contribute was refused before any password work), so the session can only be built
/// from it.
struct LoginPendingState: Sendable {
    var handshake: HandshakeState
    let context: RequestContext
    let account: String
    let deviceToken: [UInt8]?
    let transcriptHash: [UInt8]
    let serverEphemeralPublicKey: [UInt8]
    let sessionKeys: TrafficKeys

    /// Runs the server's half of the key exchange for a `login` frame (docs/PROTOCOL.md 5.3).
    init(
        handshake: HandshakeState, loginFrame: ByteBuffer, context: RequestContext, account: String, deviceToken: [UInt8]?,
        clientEphemeralPublicKey: [UInt8], serverEphemeralKey: Curve25519.KeyAgreement.PrivateKey
    ) throws(ProtocolError) {
        let shared = try KeySchedule.sharedSecret(serverEphemeralKey, peerPublicKey: clientEphemeralPublicKey)
        let serverPublic = Array(serverEphemeralKey.publicKey.rawRepresentation)
        let transcript = KeySchedule.transcriptHash(helloFrame: handshake.helloFrame, loginFrame: loginFrame, serverEphemeralPublicKey: serverPublic)
        self.handshake = handshake
        self.context = context
        self.account = account
        self.deviceToken = deviceToken
        self.transcriptHash = transcript
        self.serverEphemeralPublicKey = serverPublic
        self.sessionKeys = KeySchedule.sessionKeys(sharedSecret: shared, transcriptHash: transcript)
    }
}

/// Logged in: the session keys, the customer, and the session's own limits.
struct SessionState: Sendable {
    var channel: FrameChannel
    var identity: SessionIdentity
    /// The device token the login presented, for the throttle of password checks.
    let deviceToken: [UInt8]?
    /// The session ends at this instant whatever happens (absolute lifetime).
    let deadlineMs: Int64
    var rate: RequestRateLimiter
    /// Answers that name an unknown recipient: probing for account names is slowed down.
    var probes: RequestRateLimiter
    /// Wrong current passwords in `change_password` on this session.
    var failedPasswordChecks: Int

    /// The session a successful login opens; only a pending login (which holds the keys) can.
    init(pending: LoginPendingState, grant: LoginGrant, limits: ServerConnectionStateMachine.Limits, nowMs: Int64) {
        var channel = pending.handshake.channel
        channel.rekey(pending.sessionKeys)
        self.channel = channel
        self.identity = grant.identity
        self.deviceToken = pending.deviceToken
        self.deadlineMs = nowMs + limits.sessionLifetimeMs
        self.rate = RequestRateLimiter(ratePerSecond: limits.requestsPerSecond, burst: limits.requestBurst, nowMs: nowMs)
        self.probes = RequestRateLimiter(ratePerMinute: limits.unknownRecipientsPerMinute, burst: limits.unknownRecipientsPerMinute, nowMs: nowMs)
        self.failedPasswordChecks = 0
    }
}
