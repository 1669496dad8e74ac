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
    private let service: LedgerService
    /// Answers requests: the ledger service, or the echo service in echo mode.
    private let performer: any RequestPerformer
    private let machineConfiguration: ServerConnectionStateMachine.Configuration
    private let configuration: ServerConfiguration
    private let logger: Logger
    private let openConnections = Atomic<Int>(0)
    private let requestsInFlight = Atomic<Int>(0)
    /// Requests being performed or answered right now.
    var requestsInFlightCount: Int { self.requestsInFlight.load(ordering: .acquiring) }
    private let shuttingDown = Atomic<Bool>(false)
    private let addresses: AddressLimiter
    private let throttle: Mutex<LoginThrottle>
    public let auditTrail: AuditTrail

    /// The address the server listens on (with the real port when port 0 was asked for).
    public let localAddress: SocketAddress

    private init(serverChannel: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>, service: LedgerService, keys: DeploymentKeys, configuration: ServerConfiguration, auditTrail: AuditTrail, logger: Logger) {
        self.serverChannel = serverChannel
        guard let localAddress = serverChannel.channel.localAddress else { preconditionFailure("a bound channel has a local address") }
        self.localAddress = localAddress
        self.service = service
        self.performer = configuration.echo
            ? EchoService(identityKey: keys.identityKey, maximumAmountCents: configuration.maximumAmountCents) : service
        self.machineConfiguration = ServerConnectionStateMachine.Configuration(
            clientKey: keys.clientKey, identityKey: keys.identityKey, replayWindowMs: configuration.replayWindowMs)
        self.configuration = configuration
        self.logger = logger
        self.addresses = AddressLimiter(maximumPerAddress: configuration.maximumConnectionsPerAddress)
        self.throttle = Mutex(LoginThrottle(policy: configuration.loginThrottle))
        self.auditTrail = auditTrail
    }

    /// Binds the listening socket (with address reuse, so a restart after a crash binds at once).
    /// `tls` nil serves plaintext. Call `run()` to serve.
    public static func bind(configuration: ServerConfiguration, keys: DeploymentKeys, tls: ServerTLS?, service: LedgerService, auditTrail: AuditTrail, logger: Logger) async throws -> IntegraServer {
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
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return IntegraServer(serverChannel: channel, service: service, keys: keys, configuration: configuration, auditTrail: auditTrail, logger: logger)
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
                var machine = ServerConnectionStateMachine(configuration: self.machineConfiguration)
                var rate = RequestRateLimiter(ratePerSecond: self.configuration.requestsPerSecond, burst: self.configuration.requestBurst, nowMs: WallClock.nowMs())
                try await outbound.write(machine.connectionOpened(nowMs: WallClock.nowMs()))
                var frames = inbound.makeAsyncIterator()
                while true {
                    // Requests of this round count as in flight until their answer is written.
                    var performed = 0
                    defer { if performed > 0 { self.requestsInFlight.wrappingSubtract(performed, ordering: .acquiringAndReleasing) } }
                    var action: ServerConnectionStateMachine.Action
                    do {
                        guard let frame = try await frames.next() else { return }
                        action = machine.frameReceived(frame, nowMs: WallClock.nowMs())
                    } catch let error as ProtocolError {
                        action = machine.decodingFailed(error, nowMs: WallClock.nowMs())
                    }
                    while case .perform(let request, let context) = action {
                        let result: RequestResult
                        performed += 1
                        self.requestsInFlight.wrappingAdd(1, ordering: .acquiringAndReleasing)
                        if self.shuttingDown.load(ordering: .acquiring) {
                            result = .failed(ProtocolError(.serverBusy, "the server is shutting down; retry shortly"))
                        } else if rate.admit(nowMs: WallClock.nowMs()) {
                            result = await self.perform(request, context: context, address: address)
                        } else {
                            result = .failed(ProtocolError(.rateLimited, "more than \(self.configuration.requestsPerSecond) requests per second; slow down"))
                        }
                        self.audit(request, result, peer: peer, logger: logger)
                        action = machine.requestCompleted(result, nowMs: WallClock.nowMs())
                    }
                    switch action {
                    case .send(let frame):
                        try await outbound.write(frame)
                    case .sendAndClose(let frame):
                        // A request's refusal was recorded by `audit`; this is the frame itself refused.
                        if performed == 0, let rejection = machine.lastRejection {
                            self.auditTrail.rejected(code: rejection.code.name, reason: rejection.message, peer: peer, nowMs: WallClock.nowMs())
                        }
                        try await outbound.write(frame)
                        return
                    case .close:
                        return
                    case .perform:
                        preconditionFailure("handled above")
                    }
                }
            }
        } catch {
            logger.debug("connection ended", metadata: ["error": "\(error)"])
        }
    }

    /// Runs a request through the login throttle (logins and registrations) and the service.
    private func perform(_ request: ServerRequest, context: RequestContext, address: String) async -> RequestResult {
        switch request {
        case .login(let username, _):
            let account = Self.throttleKey(username)
            let decision = self.throttle.withLock { $0.loginAttempted(account: account, address: address, nowMs: WallClock.nowMs()) }
            if case .throttled(let retryAfterMs) = decision { return Self.throttled(retryAfterMs) }
            let result = await self.performer.perform(request, context: context)
            let outcome: LoginThrottle.Outcome
            switch result {
            case .loginSucceeded: outcome = .succeeded
            case .failed(let error) where error.code == .invalidCredentials: outcome = .wrongCredentials
            default: outcome = .notChecked
            }
            self.throttle.withLock { $0.loginCompleted(account: account, address: address, outcome: outcome, nowMs: WallClock.nowMs()) }
            return result
        case .register:
            let decision = self.throttle.withLock { $0.registrationAttempted(address: address, nowMs: WallClock.nowMs()) }
            if case .throttled(let retryAfterMs) = decision { return Self.throttled(retryAfterMs) }
            return await self.performer.perform(request, context: context)
        default:
            return await self.performer.perform(request, context: context)
        }
    }

    private static func throttled(_ retryAfterMs: Int64) -> RequestResult {
        .failed(ProtocolError(.tooManyAttempts, "too many attempts; try again in \(max(1, (retryAfterMs + 999) / 1000)) s"))
    }

    /// The account a login names, as the throttle counts it: canonical when valid, whether or
    /// not such a user exists.
    static func throttleKey(_ username: String) -> String {
        (try? Username(username))?.canonical ?? String(username.lowercased().prefix(FieldLimits.usernameBytes))
    }

    private func audit(_ request: ServerRequest, _ result: RequestResult, peer: String, logger: Logger) {
        let nowMs = WallClock.nowMs()
        switch (request, result) {
        case (_, .failed(let error)):
            logger.notice("request rejected", metadata: ["code": "\(error.code.name)"])
            self.auditTrail.rejected(code: error.code.name, reason: error.message, peer: peer, user: Self.user(of: request), nowMs: nowMs)
        case (.transfer(_, let username, _, _, _), .reply(.transferred(let receipt))):
            self.auditTrail.transferAccepted(
                transferID: receipt.transferID, from: username, to: receipt.recipient, amount: receipt.amount,
                position: Int64(clamping: receipt.position), peer: peer, nowMs: nowMs)
        default:
            break
        }
    }

    private static func user(of request: ServerRequest) -> String {
        switch request {
        case .register(let username, _), .login(let username, _): throttleKey(username)
        case .transfer(_, let username, _, _, _), .balance(_, let username), .history(_, let username, _, _),
             .changePassword(_, let username, _, _):
            username
        case .logout(let userID), .proof(let userID, _): "#\(userID)"
        }
    }

    private func pruneNoncesPeriodically() async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: .milliseconds(self.configuration.noncePruneIntervalMs))
            } catch {
                return
            }
            do {
                let pruned = try await self.service.store.pruneNonces(expiredBeforeMs: WallClock.nowMs())
                self.logger.debug("pruned nonces", metadata: ["count": "\(pruned)"])
            } catch {
                self.logger.warning("nonce pruning failed", metadata: ["error": "\(error)"])
            }
        }
    }
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
