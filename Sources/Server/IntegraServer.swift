public import IntegraFiles
import IntegraLedger
import IntegraProtocol
public import Logging
public import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// The network server: accepts connections (TLS 1.3 unless configured for plaintext), runs one
/// sequential frame loop per connection (state machine in, I/O out), enforces the connection,
/// rate and login limits, keeps the audit trail, and prunes nonces in the background.
public final class IntegraServer: Sendable {
    private let serverChannel: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>
    let service: LedgerService
    /// Answers requests: the ledger service, or the echo service in echo mode.
    let performer: any RequestPerformer
    let machineConfiguration: ServerConnectionStateMachine.Configuration
    private let configuration: ServerConfiguration
    private let logger: Logger
    private let openConnections = Atomic<Int>(0)
    let requestsInFlight = Atomic<Int>(0)
    /// Requests being performed or answered right now.
    var requestsInFlightCount: Int { self.requestsInFlight.load(ordering: .acquiring) }
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
            ? EchoService(identityKey: keys.identityKey, maximumAmountCents: configuration.maximumAmountCents) : service
        var limits = ServerConnectionStateMachine.Limits()
        limits.requestsPerSecond = configuration.requestsPerSecond
        limits.requestBurst = configuration.requestBurst
        limits.sessionLifetimeMs = configuration.sessionLifetimeMs
        self.machineConfiguration = ServerConnectionStateMachine.Configuration(
            clientKey: keys.clientKey, identityKey: keys.identityKey, replayWindowMs: configuration.replayWindowMs, limits: limits)
        self.configuration = configuration
        self.logger = logger
        self.addresses = AddressLimiter(maximumPerAddress: configuration.maximumConnectionsPerAddress)
        self.throttle = Mutex(LoginThrottle(policy: configuration.loginThrottle))
        self.auditTrail = auditTrail
    }

    /// Binds the listening socket (with address reuse, so a restart after a crash binds at once).
    /// `tls` nil serves plaintext. Call `run()` to serve.
    public static func bind(configuration: ServerConfiguration, keys: DeploymentKeys, tls: ServerTLS?, service: LedgerService, auditTrail: AuditTrail, metrics: ServerMetrics = .disabled, logger: Logger) async throws -> IntegraServer {
        let idleTimeout = TimeAmount.milliseconds(configuration.idleTimeoutMs)
        let handshakeTimeout = TimeAmount.milliseconds(configuration.handshakeTimeoutMs)
        let frameTimeout = TimeAmount.milliseconds(configuration.frameTimeoutMs)
        let maximumFrameBytes = configuration.maximumFrameBytes
        let tlsContext = tls?.context
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 1024)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: configuration.host, port: configuration.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let tlsContext {
                        try pipeline.addHandler(NIOSSLServerHandler(context: tlsContext))
                    }
                    try pipeline.addHandler(IdleStateHandler(readTimeout: idleTimeout))
                    try pipeline.addHandler(IdleConnectionCloser())
                    try pipeline.addHandler(ByteToMessageHandler(FrameDecoder(maximumFrameBytes: maximumFrameBytes, partialFrameTimeout: frameTimeout)))
                    try pipeline.addHandler(HandshakeDeadline(timeout: handshakeTimeout))
                    try pipeline.addHandler(SessionTimer())
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return IntegraServer(serverChannel: channel, service: service, keys: keys, configuration: configuration, auditTrail: auditTrail, metrics: metrics, logger: logger)
    }

    /// Serves until `shutdown()` is called; then closes every connection.
    public func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await self.pruneNoncesPeriodically() }
            try await self.serverChannel.executeThenClose { inbound in
                for try await connection in inbound {
                    let address = connection.channel.remoteAddress?.ipAddress ?? "unknown"
                    guard self.admit(address: address) else {
                        group.addTask { try? await connection.executeThenClose { _, _ in } }
                        continue
                    }
                    group.addTask {
                        defer {
                            self.openConnections.wrappingSubtract(1, ordering: .relaxed)
                            self.addresses.release(address)
                        }
                        await self.serve(connection, address: address)
                    }
                }
            }
            // Accepting has stopped: let the requests in flight finish (their commits included),
            // then close every connection.
            await self.drainRequests()
            group.cancelAll()
        }
    }

    private func drainRequests() async {
        let deadline = ContinuousClock.now + .milliseconds(self.configuration.shutdownGraceMs)
        while self.requestsInFlight.load(ordering: .acquiring) > 0 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(5))
        }
        let left = self.requestsInFlight.load(ordering: .acquiring)
        if left > 0 { self.logger.warning("shutdown: requests still in flight after the grace period", metadata: ["requests": "\(left)"]) }
    }

    /// Applies the connection limits, in total and per address. The caller closes a connection
    /// beyond them.
    private func admit(address: String) -> Bool {
        let open = self.openConnections.wrappingAdd(1, ordering: .relaxed).newValue
        let reason: String
        if open > self.configuration.maximumConnections {
            reason = "connection limit reached (\(self.configuration.maximumConnections))"
        } else if !self.addresses.acquire(address) {
            reason = "connection limit per address reached (\(self.configuration.maximumConnectionsPerAddress))"
        } else {
            return true
        }
        self.openConnections.wrappingSubtract(1, ordering: .relaxed)
        self.logger.warning("connection refused", metadata: ["peer": "\(address)", "reason": "\(reason)"])
        self.auditTrail.rejected(code: "connection_refused", reason: reason, peer: address, nowMs: WallClock.nowMs())
        return false
    }

    /// Connections open now, and those with a logged-in session.
    public var connectionCounts: (open: Int, sessions: Int) {
        (self.openConnections.load(ordering: .relaxed), self.sessionsOpen.load(ordering: .relaxed))
    }

    /// Whether `shutdown()` was called.
    public var isShuttingDown: Bool { self.shuttingDown.load(ordering: .acquiring) }

    /// Stops accepting connections; `run()` then lets requests in flight finish, closes the
    /// connections and returns. Requests that arrive meanwhile get `server_busy` (retryable).
    public func shutdown() async {
        self.shuttingDown.store(true, ordering: .releasing)
        try? await self.serverChannel.channel.close()
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
    /// honoured only if it is valid for the account the attempt names.
    func throttleVerdict(_ query: ThrottleQuery, address: String) -> ThrottleVerdict {
        let nowMs = WallClock.nowMs()
        switch query {
        case .registration:
            return self.throttle.withLock { $0.registrationAttempted(address: address, nowMs: nowMs) }
        case .login, .passwordCheck:
            let attempt = self.attempt(query, address: address, nowMs: nowMs)
            return self.throttle.withLock { $0.attempted(attempt, nowMs: nowMs) }
        }
    }

    /// Records how a throttled password check ended.
    func throttleCompleted(_ record: ServerConnectionStateMachine.ThrottleRecord, address: String) {
        let nowMs = WallClock.nowMs()
        switch record.query {
        case .registration:
            return
        case .login, .passwordCheck:
            let attempt = self.attempt(record.query, address: address, nowMs: nowMs)
            self.throttle.withLock { $0.completed(attempt, outcome: record.outcome, nowMs: nowMs) }
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

    /// Records what a connection reported: the audit trail and the throttle.
    func record(_ report: ServerConnectionStateMachine.Report, address: String, peer: String, durationNanoseconds: Int64? = nil, logger: Logger) {
        let nowMs = WallClock.nowMs()
        self.metrics.answered(report, durationNanoseconds: durationNanoseconds)
        if let throttle = report.throttle { self.throttleCompleted(throttle, address: address) }
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
             .changePassword(let session, _, _), .proof(let session, _):
            session.username
        }
    }

    /// Forgets nonces no replay window ever configured on this deployment would let pass (the
    /// widest one is kept in the store, so instances with different windows agree).
    private func pruneNoncesPeriodically() async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: .milliseconds(self.configuration.noncePruneIntervalMs))
            } catch {
                return
            }
            do {
                let widestMs = try await self.service.store.record(.maximumReplayWindowMs, self.configuration.replayWindowMs, onlyRaise: true)
                let pruned = try await self.service.store.pruneNonces(olderThanMs: WallClock.nowMs() - widestMs - Self.clockSlackMs)
                self.logger.debug("pruned nonces", metadata: ["count": "\(pruned)"])
            } catch {
                self.logger.warning("nonce pruning failed", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Extra time nonces are kept beyond the widest window: the instants of the request and of
    /// the pruning come from different clocks.
    static let clockSlackMs: Int64 = 60_000
}

/// Closes a connection that has been silent for the idle timeout.
final class IdleConnectionCloser: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
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
