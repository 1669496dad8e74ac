import Crypto
import IntegraProtocol
import NIOCore

/// The server state machine fed the input's frames as one client's stream.
///
/// With `resealing`, each frame's MAC is replaced by the right one (every other byte stays), so
/// fuzzed headers and bodies reach the checks behind the MAC; without, frames go in as they are.
/// Requests are answered by a stand-in ledger chosen by the frame's nonce. Every frame the server
/// sends must authenticate and decode on the client's side.
struct ServerSessionDriver {
    let resealing: Bool
    var machine: ServerConnectionStateMachine
    let helloFrame: ByteBuffer
    /// The client's side of the connection: opens every frame the server sends.
    var mirror: FrameChannel
    /// The key client frames are resealed with: pre-login, then the session's.
    var sealingKey: SymmetricKey
    /// False after a login with an ephemeral key the harness doesn't hold: the session keys are
    /// then unknown and the server's frames can't be checked any more.
    var knowsKeys = true
    var loginFrame: ByteBuffer?
    var closed = false

    init(resealing: Bool) {
        self.resealing = resealing
        var machine = ServerConnectionStateMachine(configuration: FuzzDeployment.serverConfiguration, random: FuzzDeployment.serverRandom())
        guard case .send(let hello) = machine.connectionOpened(nowMs: FuzzDeployment.nowMs) else { preconditionFailure("a new connection is greeted") }
        self.helloFrame = hello.frame
        self.machine = machine
        let keys = FuzzDeployment.serverConfiguration.preLoginKeys
        self.mirror = FrameChannel(connectionID: FuzzDeployment.connectionID, sendDirection: .clientToServer, keys: keys, replayWindowMs: FuzzDeployment.replayWindowMs)
        self.sealingKey = keys.clientToServer
        self.receive(self.helloFrame)
    }

    mutating func run(_ frames: [ByteBuffer], summary: inout FuzzRunSummary) {
        for frame in frames where !self.closed {
            let bytes = self.resealing ? FuzzDeployment.reseal(frame, key: self.sealingKey, connectionID: FuzzDeployment.connectionID) : frame
            self.deliver(bytes, summary: &summary)
        }
    }

    mutating func deliver(_ bytes: ByteBuffer, summary: inout FuzzRunSummary) {
        let wasAuthenticated = self.machine.session != nil
        // The frame's own nonce picks the throttle's verdict, as it picks the stand-in ledger's answer.
        let choice = bytes.getInteger(at: bytes.readerIndex + 39, as: UInt8.self) ?? 0
        var action = self.machine.frameReceived(bytes, nowMs: FuzzDeployment.nowMs)
        // A frame leads to at most one throttle question, one request and then one answer.
        for _ in 0..<3 {
            switch action {
            case .checkThrottle:
                let verdict: ThrottleVerdict = switch choice % 32 {
                case 29: .throttled(retryAfterMs: 1_500)
                case 30: .busy
                default: .allowed
                }
                action = self.machine.throttleDecided(verdict, nowMs: FuzzDeployment.nowMs)
            case .perform(let request, let context):
                summary.performedRequests.insert(Self.messageType(of: request))
                summary.sessionRequestAuthenticated = summary.sessionRequestAuthenticated || wasAuthenticated
                if case .login = request { self.loginFrame = bytes }
                let result = Self.result(for: request, choice: UInt8(truncatingIfNeeded: context.nonce.low))
                action = self.machine.requestCompleted(result, nowMs: FuzzDeployment.nowMs)
            case .send(let reply):
                if reply.frame.readableBytes > 0 { self.receive(reply.frame) }
                FuzzProperty.require(reply.frame.readableBytes <= FrameFormat.defaultMaximumFrameBytes, "the server sent a frame larger than a client accepts")
                if reply.closesConnection {
                    self.closed = true
                    guard case .none = self.machine.frameReceived(bytes, nowMs: FuzzDeployment.nowMs) else {
                        FuzzProperty.require(false, "a closed connection still handles frames")
                        return
                    }
                }
                return
            case .close:
                self.closed = true
                return
            case .none:
                return
            }
        }
        FuzzProperty.require(false, "the server asked for a second request before answering the first")
    }

    /// The client opens what the server sent: it must authenticate, be in sequence and decode.
    mutating func receive(_ frame: ByteBuffer) {
        guard self.knowsKeys else { return }
        if frame.getInteger(at: frame.readerIndex + 5, as: UInt8.self) == MessageType.loggedIn.rawValue {
            self.startSession(frame)
            guard self.knowsKeys else { return }
        }
        let opened: RawFrame
        do {
            opened = try self.mirror.open(frame, nowMs: FuzzDeployment.nowMs)
        } catch {
            FuzzProperty.require(false, "the client can't authenticate a frame the server sent: \(error)")
            return
        }
        let message = try? ServerMessage.decode(type: opened.header.type, body: opened.body)
        FuzzProperty.require(message != nil, "the client can't decode a frame the server sent")
        if case .error(let code, _)? = message {
            FuzzProperty.require(ErrorCode(rawValue: code) != nil, "the server sent unknown error code \(code)")
        }
    }

    /// Checks the login signature and, if the login carried the vectors' ephemeral key, derives
    /// the session keys as the client would.
    mutating func startSession(_ frame: ByteBuffer) {
        guard let loginFrame, let login = try? RawFrame(loginFrame), let raw = try? RawFrame(frame),
              case .login(_, _, let clientKey, _)? = try? ClientMessage.decode(type: login.header.type, body: login.body),
              case .loggedIn(_, _, let serverKey, let signature, _)? = try? ServerMessage.decode(type: raw.header.type, body: raw.body)
        else {
            FuzzProperty.require(false, "the server sent loggedIn without a login, or one that doesn't decode")
            return
        }
        let transcript = KeySchedule.transcriptHash(helloFrame: self.helloFrame, loginFrame: loginFrame, serverEphemeralPublicKey: serverKey)
        FuzzProperty.require(FuzzDeployment.identityKey.publicKey.isValidSignature(signature, for: KeySchedule.signaturePayload(transcriptHash: transcript)), "the server's login signature does not verify")
        guard clientKey == Array(FuzzDeployment.clientEphemeralKey.publicKey.rawRepresentation) else {
            self.knowsKeys = false
            return
        }
        guard let serverPublicKey = try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: serverKey),
              let shared = try? FuzzDeployment.clientEphemeralKey.sharedSecretFromKeyAgreement(with: serverPublicKey)
        else {
            FuzzProperty.require(false, "the server's ephemeral key is not usable")
            return
        }
        let keys = KeySchedule.sessionKeys(sharedSecret: shared, transcriptHash: transcript)
        self.mirror.rekey(keys)
        self.sealingKey = keys.clientToServer
    }

    static func messageType(of request: ServerRequest) -> MessageType {
        switch request {
        case .register: .register
        case .login: .login
        case .logout: .logout
        case .transfer: .transfer
        case .balance: .balance
        case .history: .history
        case .changePassword: .changePassword
        case .proof: .proof
        case .treeProof: .treeProof
        }
    }

    /// A stand-in ledger: one nonce byte in four asks for a failure with any error code, and its
    /// answers are built from what the frame sent, as stored data would be (names, ids): history
    /// pages of up to 255 entries whose names repeat the request's name up to 255 times, far past
    /// what any field or frame holds. The machine must answer without trapping, and never send a
    /// frame a client would refuse.
    static func result(for request: ServerRequest, choice: UInt8) -> RequestResult {
        if choice % 4 == 3 {
            let code = ErrorCode.allCases[Int(choice / 4) % ErrorCode.allCases.count]
            return .failed(ProtocolError(code, "refused by the fuzz ledger"))
        }
        let nowMs = FuzzDeployment.nowMs
        switch request {
        case .register(let username, _):
            return .reply(.registered(username: username))
        case .login(let username, _):
            return .loginSucceeded(LoginGrant(
                identity: SessionIdentity(userID: 1, username: username, credentialVersion: 0), balance: "100.00",
                deviceToken: Array(repeating: choice, count: Int(choice) % 300)))
        case .logout:
            return .loggedOut
        case .transfer(let session, let transferID, let recipient, let amount):
            return .reply(.transferred(TransferConfirmation(
                transferID: transferID, position: 2, sender: session.username, recipient: recipient, amount: amount,
                balanceAfter: "0.00", createdAtMs: nowMs, isRetry: false)))
        case .balance(let session):
            return .reply(.balanceReport(username: session.username, balance: "100.00"))
        case .history(let session, let before, _):
            let storedName = String(repeating: session.username, count: 1 + Int(choice))
            let entry = HistoryEntry(position: 1, kind: .deposit, transferID: "d-1", sender: "system", recipient: storedName, amount: "100.00", balanceAfter: "100.00", createdAtMs: nowMs)
            return .reply(.historyPage(entries: Array(repeating: entry, count: Int(choice)), nextBefore: before))
        case .changePassword(let session, _, _):
            return .passwordChanged(credentialVersion: session.credentialVersion + 1)
        case .proof(_, let position):
            return .reply(.inclusionProof(InclusionProof(
                position: position, digests: [], checkpointPosition: position, checkpointChainHash: Array(repeating: 0, count: 32),
                checkpointCreatedAtMs: nowMs, checkpointSignature: Array(repeating: 0, count: 64),
                entry: Array("integra/1 entry".utf8), previousChainHash: Array(repeating: 0, count: 32))))
        case .treeProof(_, let position, let fromTreeSize):
            return .reply(.treeProofs(TreeProofs(
                treeHead: Array("integra/test\n1\n\n".utf8), entry: position == nil ? [] : Array("integra/1 entry".utf8),
                inclusionPath: position == nil ? [] : [Array(repeating: 1, count: 32)], fromTreeSize: fromTreeSize ?? 0,
                consistencyPath: (fromTreeSize ?? 0) == 0 ? [] : [Array(repeating: 2, count: 32)])))
        }
    }
}
