public import Crypto
import Foundation
import IntegraLedger
public import IntegraProtocol
public import IntegraTransparency
public import NIOCore
import NIOPosix

/// One authenticated conversation with an Integra server.
///
/// Every reply is verified by `ClientConnectionStateMachine` before it is returned; a reply that
/// fails verification is an error and the connection is closed. Use it from one task at a time,
/// one request at a time, inside `IntegraConnection.withConnection`.
public final class IntegraConnection {
    private var machine: ClientConnectionStateMachine
    private var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private let clock: WallClock
    /// The exact bytes of the last request frame sent, for diagnostics and tests.
    public private(set) var lastSentFrame: ByteBuffer?
    /// The canonical name the server confirmed at login.
    public private(set) var loggedInAs: String?

    private init(
        machine: ClientConnectionStateMachine, clock: WallClock, inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator,
        outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    ) {
        self.machine = machine
        self.clock = clock
        self.inbound = inbound
        self.outbound = outbound
    }

    /// Connects, verifies the server's hello, runs `body`, and closes the connection.
    /// - Parameters:
    ///   - server: "HOST:PORT" overriding the configuration's address.
    ///   - timeoutMs: how long to wait for each answer.
    ///   - clock: what frames are stamped with and checked against (the system's wall clock;
    ///     a test's manual clock, shared with its server).
    public static func withConnection<Result>(
        configuration: ClientConfiguration,
        server: String? = nil,
        timeoutMs: Int64 = 30_000,
        clock: WallClock = .system,
        _ body: (IntegraConnection) async throws -> Result
    ) async throws -> Result {
        let machineConfiguration: ClientConnectionStateMachine.Configuration
        let address: (host: String, port: Int)
        let transport: ClientTransport
        do {
            machineConfiguration = try configuration.stateMachineConfiguration()
            address = try ServerAddress.parse(server ?? configuration.server)
            transport = try ClientTransport(configuration: configuration)
        } catch {
            throw IntegraClientError(kind: .configuration, message: error.message)
        }
        let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        let pinMismatch = PinMismatchFlag()
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.milliseconds(timeoutMs))
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connect(host: address.host, port: address.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try Self.wrap(channel, transport: transport, pinMismatch: pinMismatch, timeoutMs: timeoutMs)
                    }
                }
        } catch {
            throw IntegraClientError(kind: .connection, message: "cannot connect to \(address.host):\(address.port): \(error)")
        }
        return try await Self.converse(over: channel, machineConfiguration: machineConfiguration, clock: clock, pinMismatch: pinMismatch, body)
    }

    /// Puts the client's handlers on a new channel (the transport, the frame decoder and the
    /// reply timeout) and wraps it for async use. Runs on the channel's event loop.
    static func wrap(_ channel: any Channel, transport: ClientTransport, pinMismatch: PinMismatchFlag, timeoutMs: Int64) throws -> NIOAsyncChannel<ByteBuffer, ByteBuffer> {
        try transport.addHandlers(to: channel, pinMismatch: pinMismatch)
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
        try channel.pipeline.syncOperations.addHandler(ReplyTimeoutHandler(timeout: .milliseconds(timeoutMs)))
        return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
    }

    /// Verifies the server's hello on a channel made by `wrap`, runs `body`, and closes it.
    static func converse<Result>(
        over channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>, machineConfiguration: ClientConnectionStateMachine.Configuration, clock: WallClock,
        pinMismatch: PinMismatchFlag, _ body: (IntegraConnection) async throws -> Result
    ) async throws -> Result {
        try await channel.executeThenClose { inbound, outbound in
            let connection = IntegraConnection(
                machine: ClientConnectionStateMachine(configuration: machineConfiguration), clock: clock,
                inbound: inbound.makeAsyncIterator(), outbound: outbound)
            let hello: ByteBuffer
            do {
                hello = try await connection.nextFrame()
            } catch let error as IntegraClientError where pinMismatch.isSet {
                throw IntegraClientError(kind: .untrustedReply, message: "the server's TLS key does not match the pin in the client configuration (\(error.message))")
            }
            do throws(ProtocolError) {
                try connection.machine.helloReceived(hello, nowMs: clock.nowMs())
            } catch {
                throw IntegraClientError(kind: .untrustedReply, code: error.code.rawValue, message: error.message)
            }
            return try await body(connection)
        }
    }

    /// Whether the session is logged in.
    public var isAuthenticated: Bool { self.machine.isAuthenticated }

    /// The frame for a request; one whose fields don't fit a frame is refused here, unsent.
    private func frame(_ message: ClientMessage) throws -> ByteBuffer {
        guard !self.machine.isClosed else {
            throw IntegraClientError(kind: .connection, message: "the connection is closed; connect again")
        }
        do {
            return try self.machine.makeRequest(message, nowMs: self.clock.nowMs())
        } catch {
            throw IntegraClientError(kind: .configuration, code: error.code.rawValue, message: "the request is too large to send")
        }
    }

    /// Creates a customer account. Returns the canonical name.
    public func register(username: String, password: String) async throws -> String {
        let reply = try await self.exchange(self.frame(.register(username: username, password: password)))
        guard case .registered(let name) = reply else { throw Self.unexpected(reply) }
        return name
    }

    /// Logs in: checks the password on the server and the server's identity here, and switches to
    /// session keys. `deviceToken` is the token an earlier login of this account returned, if the
    /// client kept it (it shields the account from lockouts caused by others). Returns the
    /// canonical name, the balance and a new device token to keep.
    @discardableResult
    public func login(username: String, password: String, deviceToken: [UInt8]? = nil) async throws -> (username: String, balance: String, deviceToken: [UInt8]?) {
        guard !self.machine.isClosed else {
            throw IntegraClientError(kind: .connection, message: "the connection is closed; connect again")
        }
        guard !self.machine.isAuthenticated else {
            throw IntegraClientError(kind: .configuration, message: "this connection is already logged in")
        }
        let frame: ByteBuffer
        do {
            frame = try self.machine.makeLogin(username: username, password: password, deviceToken: deviceToken, nowMs: self.clock.nowMs())
        } catch {
            throw IntegraClientError(kind: .configuration, code: error.code.rawValue, message: "the login is too large to send")
        }
        let reply = try await self.exchange(frame)
        guard case .loggedIn(let name, let balance, _, _, let token) = reply else { throw Self.unexpected(reply) }
        self.loggedInAs = name
        return (name, balance, token)
    }

    /// Sends money. Retrying with the same `transferID` never debits twice.
    public func transfer(to recipient: String, amount: String, transferID: String) async throws -> TransferConfirmation {
        let reply = try await self.exchange(self.frame(.transfer(transferID: transferID, recipient: recipient, amount: amount)))
        guard case .transferred(let confirmation) = reply else { throw Self.unexpected(reply) }
        if let mismatch = Self.mismatch(confirmation, transferID: transferID, sender: self.loggedInAs, recipient: recipient, amount: amount) {
            throw IntegraClientError(kind: .untrustedReply, message: "the signed receipt is not for the transfer that was asked: \(mismatch)")
        }
        return confirmation
    }

    /// What differs between a receipt and the transfer asked for (the recipient in the form the
    /// server looks names up by), or nil. A receipt for someone else's money, another recipient
    /// or another amount is never taken as the answer, whoever signed it.
    static func mismatch(_ receipt: TransferConfirmation, transferID: String, sender: String?, recipient: String, amount: String) -> String? {
        if receipt.transferID != transferID { return "its transfer id is \(receipt.transferID.debugDescription)" }
        if let sender, receipt.sender != sender { return "it pays from \(receipt.sender.debugDescription), not \(sender.debugDescription)" }
        if let asked = try? Username(recipient), Username.keys(forStoredName: receipt.recipient).lookupForm != asked.canonical {
            return "it pays \(receipt.recipient.debugDescription), not \(recipient.debugDescription)"
        }
        if let asked = try? Amount.parse(amount, maximumCents: Int64.max), Amount.format(cents: asked.cents) != receipt.amount {
            return "it is for \(receipt.amount), not \(amount)"
        }
        return nil
    }

    /// The logged-in customer's balance as a decimal string.
    public func balance() async throws -> String {
        let reply = try await self.exchange(self.frame(.balance))
        guard case .balanceReport(_, let balance) = reply else { throw Self.unexpected(reply) }
        return balance
    }

    /// One page of history, newest first. Pass the returned `nextBefore` to get older entries.
    public func history(before: UInt64? = nil, limit: UInt16 = 50) async throws -> (entries: [HistoryEntry], nextBefore: UInt64?) {
        let reply = try await self.exchange(self.frame(.history(beforePosition: before, limit: limit)))
        guard case .historyPage(let entries, let nextBefore) = reply else { throw Self.unexpected(reply) }
        return (entries, nextBefore)
    }

    /// Every history entry, newest first, following pages up to `maximumEntries`.
    public func fullHistory(maximumEntries: Int = 100_000) async throws -> [HistoryEntry] {
        var all: [HistoryEntry] = []
        var before: UInt64? = nil
        repeat {
            let page = try await self.history(before: before, limit: UInt16(FieldLimits.historyPageEntries))
            all.append(contentsOf: page.entries)
            before = page.nextBefore
        } while before != nil && all.count < maximumEntries
        return all
    }

    public func changePassword(current: String, new: String) async throws {
        let reply = try await self.exchange(self.frame(.changePassword(currentPassword: current, newPassword: new)))
        guard case .passwordChanged = reply else { throw Self.unexpected(reply) }
    }

    /// Asks the server to prove that a receipt's entry is still in the ledger, and checks the
    /// proof against the receipt and the pinned server identity.
    public func audit(_ receipt: TransferConfirmation, identity: Curve25519.Signing.PublicKey) async throws -> InclusionProof {
        guard Receipt.isValid(receipt, identity: identity) else {
            throw IntegraClientError(kind: .untrustedReply, code: ErrorCode.authenticationFailed.rawValue, message: Self.receiptRefusal(receipt))
        }
        let reply = try await self.exchange(self.frame(.proof(position: receipt.position)))
        guard case .inclusionProof(let proof) = reply else { throw Self.unexpected(reply) }
        guard proof.proves(receipt, identity: identity) else {
            throw IntegraClientError(kind: .untrustedReply, code: ErrorCode.authenticationFailed.rawValue, message: "the ledger no longer contains this receipt's entry as signed")
        }
        return proof
    }

    /// The server's current tree head, checked against the pinned identity key and, when the
    /// client saw a head before (`earlier`), proven to extend it. Nil for a ledger with no entry
    /// yet (when the client saw none). A head that does not extend `earlier` is refused, naming
    /// both: the ledger was rolled back or forked after this client saw it.
    /// With a witness policy, the head must carry at least `threshold` cosignatures by the
    /// witnesses named.
    public func treeHead(
        extending earlier: TreeCheckpoint?, identity: Curve25519.Signing.PublicKey, witnesses: (verifiers: [NoteVerifier], threshold: Int) = ([], 0)
    ) async throws -> (checkpoint: TreeCheckpoint, note: [UInt8])? {
        let reply: ServerMessage
        do {
            reply = try await self.exchange(self.frame(.treeProof(position: nil, fromTreeSize: earlier?.treeSize)))
        } catch let error as IntegraClientError where error.code == ErrorCode.entryNotFound.rawValue {
            guard let earlier else { return nil }
            throw Self.notExtending(earlier, shown: nil)
        }
        guard case .treeProofs(let proofs) = reply else { throw Self.unexpected(reply) }
        guard let head = proofs.verifiedHead(identity: identity) else {
            throw IntegraClientError(kind: .untrustedReply, code: ErrorCode.authenticationFailed.rawValue, message: "the tree head is not signed by the pinned server")
        }
        if let earlier, !proofs.proves(head, extends: earlier) { throw Self.notExtending(earlier, shown: head) }
        let cosigned = proofs.cosignatureCount(by: witnesses.verifiers)
        guard cosigned >= witnesses.threshold else {
            throw IntegraClientError(
                kind: .untrustedReply, code: ErrorCode.authenticationFailed.rawValue,
                message: "the tree head of \(head.treeSize) entries carries \(cosigned) of the \(witnesses.threshold) witness cosignatures this client requires")
        }
        return (head, proofs.treeHead)
    }

    /// Asks the server to prove that a receipt's entry is in its current tree head (and, for a
    /// receipt proven in an earlier head, that the current head extends that one); checks every
    /// proof against the receipt and the pinned identity. Returns the current head.
    public func auditInTree(_ receipt: TransferConfirmation, identity: Curve25519.Signing.PublicKey) async throws -> TreeCheckpoint {
        guard Receipt.isValid(receipt, identity: identity) else {
            throw IntegraClientError(kind: .untrustedReply, code: ErrorCode.authenticationFailed.rawValue, message: Self.receiptRefusal(receipt))
        }
        let receiptHead = Receipt.provenHead(receipt, identity: identity)
        let reply = try await self.exchange(self.frame(.treeProof(position: receipt.position, fromTreeSize: receiptHead?.treeSize)))
        guard case .treeProofs(let proofs) = reply else { throw Self.unexpected(reply) }
        guard let head = proofs.verifiedHead(identity: identity) else {
            throw IntegraClientError(kind: .untrustedReply, code: ErrorCode.authenticationFailed.rawValue, message: "the tree head is not signed by the pinned server")
        }
        guard let entry = CanonicalEntry(encoding: proofs.entry), entry.shows(receipt), proofs.provesEntry(at: receipt.position, in: head) else {
            throw IntegraClientError(kind: .untrustedReply, code: ErrorCode.authenticationFailed.rawValue, message: "the ledger's current tree does not contain this receipt's entry as signed")
        }
        if let receiptHead, !proofs.proves(head, extends: receiptHead) { throw Self.notExtending(receiptHead, shown: head) }
        return head
    }

    /// Why a receipt is refused before anything is asked: a tree receipt has no signature of its
    /// own, its entry must be proven in a head the pinned server signed.
    static func receiptRefusal(_ receipt: TransferConfirmation) -> String {
        receipt.treeHead.isEmpty
            ? "the receipt itself is not signed by the pinned server"
            : "the receipt is not proven: its entry, its inclusion path or its tree head does not check out against the pinned server's key"
    }

    static func notExtending(_ earlier: TreeCheckpoint, shown: TreeCheckpoint?) -> IntegraClientError {
        let saw = "\(earlier.treeSize) entries, root \(Data(earlier.rootHash).base64EncodedString())"
        let now = shown.map { "\($0.treeSize) entries, root \(Data($0.rootHash).base64EncodedString())" } ?? "no tree at all"
        return IntegraClientError(
            kind: .untrustedReply, code: ErrorCode.authenticationFailed.rawValue,
            message: "the ledger does not extend the tree head seen before (\(saw)); the server shows \(now): it was rolled back or forked")
    }

    /// Ends the session; the server closes the connection.
    public func logout() async throws {
        let reply = try await self.exchange(self.frame(.logout))
        guard case .loggedOut = reply else { throw Self.unexpected(reply) }
    }

    /// Writes bytes as they are, bypassing the state machine (diagnostics and tests).
    public func sendRaw(_ bytes: ByteBuffer) async throws {
        try await self.outbound.write(bytes)
    }

    /// The next frame from the server, unverified (diagnostics and tests). Nil when closed.
    public func receiveRaw() async throws -> ByteBuffer? {
        try await self.inbound.next()
    }

    private func exchange(_ frame: ByteBuffer) async throws -> ServerMessage {
        self.lastSentFrame = frame
        var sendError: (any Error)? = nil
        do {
            try await self.outbound.write(frame)
        } catch {
            // The server may have closed the connection after a last frame of its own (an
            // ended session, a timeout): that frame, verified like any reply, says why.
            sendError = error
        }
        let replyFrame: ByteBuffer
        do {
            replyFrame = try await self.nextFrame()
        } catch {
            self.machine.connectionLost()
            if let sendError { throw IntegraClientError(kind: .connection, message: "cannot send: \(sendError)") }
            throw error
        }
        let reply: ServerMessage
        do {
            reply = try self.machine.replyReceived(replyFrame, nowMs: self.clock.nowMs())
        } catch {
            throw IntegraClientError(kind: .untrustedReply, code: error.code.rawValue, message: error.message)
        }
        if case .error(let code, let message) = reply {
            throw IntegraClientError(kind: .server, code: code, message: message)
        }
        return reply
    }

    private func nextFrame() async throws -> ByteBuffer {
        let frame: ByteBuffer?
        do {
            frame = try await self.inbound.next()
        } catch is ReplyTimeoutHandler.Timeout {
            throw IntegraClientError(kind: .timeout, message: "the server did not answer in time")
        } catch let error as ProtocolError {
            throw IntegraClientError(kind: .untrustedReply, code: error.code.rawValue, message: error.message)
        } catch {
            throw IntegraClientError(kind: .connection, message: "\(error)")
        }
        guard let frame else { throw IntegraClientError(kind: .connection, message: "the server closed the connection") }
        return frame
    }

    private static func unexpected(_ reply: ServerMessage) -> IntegraClientError {
        IntegraClientError(kind: .untrustedReply, code: ErrorCode.unexpectedMessage.rawValue, message: "unexpected reply \(reply.type)")
    }
}

/// Closes the connection with a `Timeout` error when a request gets no reply in time, and when
/// the server's hello (the server speaks first) does not come in time after connecting.
final class ReplyTimeoutHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    struct Timeout: Error {}

    private let timeout: TimeAmount
    private var scheduled: Scheduled<Void>?

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func channelActive(context: ChannelHandlerContext) {
        self.startTimer(context: context)
        context.fireChannelActive()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        self.startTimer(context: context)
        context.write(data, promise: promise)
    }

    private func startTimer(context: ChannelHandlerContext) {
        guard self.scheduled == nil else { return }
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        self.scheduled = context.eventLoop.scheduleTask(in: self.timeout) {
            loopBound.value.fireErrorCaught(Timeout())
            loopBound.value.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.scheduled?.cancel()
        self.scheduled = nil
        context.fireChannelRead(data)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.scheduled?.cancel()
    }
}
