public import IntegraFiles
import IntegraLedger
import IntegraProtocol
public import Logging
public import NIOCore
import NIOPosix
import NIOSSL
public import ServiceLifecycle
import Synchronization

/// The network server, a service of the deployment: accepts connections (TLS 1.3 unless
/// configured for plaintext), runs one sequential frame loop per connection (state machine in,
/// I/O out), enforces the connection, rate and login limits and keeps the audit trail. On a
/// graceful shutdown it stops accepting, lets the requests in flight finish, then closes every
/// connection.
public final class IntegraServer: Service, Sendable {
    private let serverChannel: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>
    let service: LedgerService
    /// Answers requests: the ledger service, or the echo service in echo mode.
    let performer: any RequestPerformer
    let machineConfiguration: ServerConnectionStateMachine.Configuration
    private let configuration: ServerConfiguration
    /// Where the server reads the time (`ServerConfiguration.clock`).
    let clock: WallClock
    private let logger: Logger
    /// Connections open now, within the limits.
    let openConnections = WaitableCount()
    /// Requests being performed or answered right now; the shutdown waits for them.
    let requestsInFlight = WaitableCount()
    let shuttingDown = Atomic<Bool>(false)
    /// Connections with a logged-in session.
    let sessionsOpen = Atomic<Int>(0)
    /// Where the server records what it does.
    public let metrics: ServerMetrics
    private let addresses: AddressLimiter
    private let throttle: Mutex<LoginThrottle>
    public let auditTrail: AuditTrail

    /// The address the server listens on (with the real port when port 0 was asked for).
    public let localAddress: SocketAddress

    private init(serverChannel: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>, service: LedgerService, keys: DeploymentKeys, configuration: ServerConfiguration, auditTrail: AuditTrail, metrics: ServerMetrics, logger: Logger) {
        self.serverChannel = serverChannel
        self.metrics = metrics
        guard let localAddress = serverChannel.channel.localAddress else { preconditionFailure("a bound channel has a local address") }
        self.localAddress = localAddress
        self.service = service
        self.performer = configuration.echo
            ? EchoService(committer: service.committer, maximumAmountCents: configuration.maximumAmountCents) : service
        var limits = ServerConnectionStateMachine.Limits()
        limits.requestsPerSecond = configuration.requestsPerSecond
        limits.requestBurst = configuration.requestBurst
        limits.sessionLifetimeMs = configuration.sessionLifetimeMs
        self.machineConfiguration = ServerConnectionStateMachine.Configuration(
            clientKey: keys.clientKey, identityKey: keys.identityKey, replayWindowMs: configuration.replayWindowMs, limits: limits)
        self.configuration = configuration
        self.clock = configuration.clock
        self.logger = logger
        self.addresses = AddressLimiter(maximumPerAddress: configuration.maximumConnectionsPerAddress)
        self.throttle = Mutex(LoginThrottle(policy: configuration.loginThrottle))
        self.auditTrail = auditTrail
    }

    /// Binds the listening socket (with address reuse, so a restart after a crash binds at once).
    /// `tls` nil serves plaintext. Call `run()` to serve.
    public static func bind(configuration: ServerConfiguration, keys: DeploymentKeys, tls: ServerTLS?, service: LedgerService, auditTrail: AuditTrail, metrics: ServerMetrics = .disabled, logger: Logger) async throws -> IntegraServer {
        let tlsContext = tls?.context
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 1024)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: configuration.host, port: configuration.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try Self.addConnectionHandlers(to: channel.pipeline.syncOperations, configuration: configuration, tlsContext: tlsContext)
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return IntegraServer(serverChannel: channel, service: service, keys: keys, configuration: configuration, auditTrail: auditTrail, metrics: metrics, logger: logger)
    }

    /// The handlers of every accepted connection, in order: TLS (unless `tlsContext` is nil), the
    /// idle timeout, the frame decoder with its partial-frame timeout, the handshake deadline and
    /// the session timer. Their timers run on the connection's event loop.
    static func addConnectionHandlers(to pipeline: ChannelPipeline.SynchronousOperations, configuration: ServerConfiguration, tlsContext: NIOSSLContext?) throws {
        if let tlsContext {
            try pipeline.addHandler(NIOSSLServerHandler(context: tlsContext))
        }
        try pipeline.addHandler(IdleConnectionCloser(timeout: .milliseconds(configuration.idleTimeoutMs)))
        try pipeline.addHandler(ByteToMessageHandler(FrameDecoder(
            maximumFrameBytes: configuration.maximumFrameBytes, partialFrameTimeout: .milliseconds(configuration.frameTimeoutMs))))
        try pipeline.addHandler(HandshakeDeadline(timeout: .milliseconds(configuration.handshakeTimeoutMs)))
        try pipeline.addHandler(SessionTimer())
    }

    /// Serves until a graceful shutdown (or cancellation): then stops accepting, lets the
    /// requests in flight finish (their commits included, within `shutdownGraceMs`) and closes
    /// every connection. Requests that arrive meanwhile get `server_busy` (retryable).
    public func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            try await withTaskCancellationOrGracefulShutdownHandler {
                try await self.serverChannel.executeThenClose { inbound in
                    for try await connection in inbound {
                        let address = connection.channel.remoteAddress?.ipAddress ?? "unknown"
                        guard self.admit(address: address) else {
                            group.addTask { try? await connection.executeThenClose { _, _ in } }
                            continue
                        }
                        group.addTask {
                            defer {
                                self.addresses.release(address)
                                self.openConnections.add(-1)
                            }
                            await self.serve(connection, address: address)
                        }
                    }
                }
            } onCancelOrGracefulShutdown: {
                self.stopAccepting()
            }
            await self.drainRequests()
            group.cancelAll()
        }
    }

    /// Stops accepting connections and tells open connections that the server is shutting down.
    private func stopAccepting() {
        self.shuttingDown.store(true, ordering: .releasing)
        self.serverChannel.channel.close(promise: nil)
    }

    /// Waits until no request is in flight, or until the grace period is over.
    private func drainRequests() async {
        let graceMs = self.configuration.shutdownGraceMs
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.requestsInFlight.wait(until: { $0 == 0 }) }
            group.addTask { try? await Task.sleep(for: .milliseconds(graceMs)) }
            await group.next()
            group.cancelAll()
        }
        let left = self.requestsInFlight.value
        if left > 0 { self.logger.warning("shutdown: requests still in flight after the grace period", metadata: ["requests": "\(left)"]) }
    }

    /// Applies the connection limits, in total and per address. The caller closes a connection
    /// beyond them.
    private func admit(address: String) -> Bool {
        let open = self.openConnections.add(1)
        let reason: String
        if open > self.configuration.maximumConnections {
            reason = "connection limit reached (\(self.configuration.maximumConnections))"
        } else if !self.addresses.acquire(address) {
            reason = "connection limit per address reached (\(self.configuration.maximumConnectionsPerAddress))"
        } else {
            return true
        }
        self.openConnections.add(-1)
        self.logger.warning("connection refused", metadata: ["peer": "\(address)", "reason": "\(reason)"])
        self.auditTrail.rejected(code: "connection_refused", reason: reason, peer: address, nowMs: self.clock.nowMs())
        return false
    }

    /// Whether a graceful shutdown has begun.
    public var isShuttingDown: Bool { self.shuttingDown.load(ordering: .acquiring) }

    /// Connections open now, and those with a logged-in session.
    public var connectionCounts: (open: Int, sessions: Int) {
        (self.openConnections.value, self.sessionsOpen.load(ordering: .relaxed))
    }

    private func serve(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>, address: String) async {
        let peer = connection.channel.remoteAddress.map { remote in
            let host = remote.ipAddress.map { remote.protocol == .inet6 ? "[\($0)]" : $0 } ?? "unknown"
            return remote.port.map { "\(host):\($0)" } ?? host
        } ?? "unknown"
        var logger = self.logger
        logger[metadataKey: "peer"] = "\(peer)"
        do {
            try await connection.executeThenClose { inbound, outbound in
                var loop = ConnectionLoop(
                    server: self, channel: connection.channel, inbound: inbound.makeAsyncIterator(), outbound: outbound,
                    address: address, peer: peer, logger: logger)
                try await loop.run()
            }
        } catch {
            logger.debug("connection ended", metadata: ["error": "\(error)"])
        }
    }

    /// The login throttle's verdict on a password check or a registration; a device token is
    /// honoured only if it is valid for the account the attempt names. An allowed password check
    /// comes with the attempt that was counted, which `record` settles when the check ends.
    func throttleVerdict(_ query: ThrottleQuery, address: String) -> (verdict: ThrottleVerdict, counted: LoginThrottle.Attempt?) {
        let nowMs = self.clock.nowMs()
        switch query {
        case .registration:
            return (self.throttle.withLock { $0.registrationAttempted(address: address, nowMs: nowMs) }, nil)
        case .login, .passwordCheck:
            let attempt = self.attempt(query, address: address, nowMs: nowMs)
            let verdict = self.throttle.withLock { $0.attempted(attempt, nowMs: nowMs) }
            return (verdict, verdict == .allowed ? attempt : nil)
        }
    }

    private func attempt(_ query: ThrottleQuery, address: String, nowMs: Int64) -> LoginThrottle.Attempt {
        let account: String
        let token: [UInt8]?
        switch query {
        case .login(let name, let deviceToken), .passwordCheck(let name, let deviceToken):
            account = Self.throttleKey(name)
            token = deviceToken
        case .registration:
            preconditionFailure("a registration is no password check")
        }
        let device = token.flatMap { self.service.deviceTokens.identify($0, canonicalName: account, nowMs: nowMs) }
        return LoginThrottle.Attempt(account: account, address: address, device: device)
    }

    /// The account a login names, as the throttle counts it: canonical when valid, whether or
    /// not such a user exists.
    static func throttleKey(_ username: String) -> String {
        (try? Username(username))?.canonical ?? String(username.lowercased().prefix(FieldLimits.usernameBytes))
    }

    /// Reads the login throttle's state (tests and the operator's status).
    func throttleState<T>(_ body: (LoginThrottle) -> T) -> T {
        self.throttle.withLock { body($0) }
    }

    /// Settles a counted password check that ended without an answer.
    func settleUnanswered(_ counted: LoginThrottle.Attempt) {
        let nowMs = self.clock.nowMs()
        self.throttle.withLock { $0.completed(counted, outcome: .notChecked, nowMs: nowMs) }
    }

    /// Records what a connection reported: the audit trail, and how the password check the
    /// throttle counted for this request (`counted`) ended; an answer without a throttle
    /// outcome (the server shutting down, an internal error) settles it as not checked.
    func record(_ report: ServerConnectionStateMachine.Report, counted: LoginThrottle.Attempt?, peer: String, durationNanoseconds: Int64? = nil, logger: Logger) {
        let nowMs = self.clock.nowMs()
        self.metrics.answered(report, durationNanoseconds: durationNanoseconds)
        if let counted {
            let outcome = report.throttle?.outcome ?? .notChecked
            self.throttle.withLock { $0.completed(counted, outcome: outcome, nowMs: nowMs) }
        }
        if let error = report.error {
            logger.notice("request rejected", metadata: ["code": "\(error.code.name)"])
            self.auditTrail.rejected(code: error.code.name, reason: error.message, peer: peer, user: report.request.map(Self.user(of:)), nowMs: nowMs)
        } else if case .transfer(let session, _, _, _)? = report.request, let receipt = report.transferReceipt {
            self.auditTrail.transferAccepted(
                transferID: receipt.transferID, from: session.username, to: receipt.recipient, amount: receipt.amount,
                position: Int64(clamping: receipt.position), peer: peer, nowMs: nowMs)
        }
    }

    private static func user(of request: ServerRequest) -> String {
        switch request {
        case .register(let username, _), .login(let username, _): throttleKey(username)
        case .logout(let session), .transfer(let session, _, _, _), .balance(let session), .history(let session, _, _),
             .changePassword(let session, _, _), .proof(let session, _), .treeProof(let session, _, _):
            session.username
        }
    }
}

/// Closes a connection from which nothing has been read for the idle timeout. It keeps time
/// by its event loop's clock (`EventLoop.now`), which a test's embedded event loop advances.
final class IdleConnectionCloser: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let timeout: TimeAmount
    private var lastReadAt = NIODeadline.distantPast
    private var scheduled: Scheduled<Void>?

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { self.start(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        self.start(context: context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.lastReadAt = context.eventLoop.now
        context.fireChannelRead(data)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.scheduled?.cancel()
        self.scheduled = nil
    }

    private func start(context: ChannelHandlerContext) {
        guard self.scheduled == nil else { return }
        self.lastReadAt = context.eventLoop.now
        self.check(context: context)
    }

    /// Closes the connection if it has been silent for the timeout; otherwise looks again when
    /// it would have been.
    private func check(context: ChannelHandlerContext) {
        let deadline = self.lastReadAt + self.timeout
        guard context.eventLoop.now < deadline else {
            self.scheduled = nil
            context.close(promise: nil)
            return
        }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        self.scheduled = context.eventLoop.scheduleTask(deadline: deadline) {
            bound.value.0.check(context: bound.value.1)
        }
    }
}

/// Counts open connections per client address and refuses those beyond the limit.
final class AddressLimiter: Sendable {
    private let maximumPerAddress: Int
    private let counts = Mutex<[String: Int]>([:])

    init(maximumPerAddress: Int) {
        self.maximumPerAddress = maximumPerAddress
    }

    func acquire(_ address: String) -> Bool {
        self.counts.withLock { counts in
            let open = counts[address, default: 0]
            guard open < self.maximumPerAddress else { return false }
            counts[address] = open + 1
            return true
        }
    }

    func release(_ address: String) {
        self.counts.withLock { counts in
            let open = counts[address, default: 0] - 1
            counts[address] = open > 0 ? open : nil
        }
    }
}

extension ServerConnectionStateMachine.Report {
    /// The receipt sent, when the answer was one.
    var transferReceipt: TransferConfirmation? {
        guard case .transferred(let receipt)? = self.message else { return nil }
        return receipt
    }
}
