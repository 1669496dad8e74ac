import IntegraLedger
import IntegraProtocol
public import Logging
public import NIOCore
import NIOPosix
import Synchronization

/// The network server: accepts connections, runs one sequential frame loop per connection
/// (state machine in, I/O out), and prunes expired nonces in the background.
public final class IntegraServer: Sendable {
    private let serverChannel: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>
    private let service: LedgerService
    /// Answers requests: the ledger service, or the echo service in echo mode.
    private let performer: any RequestPerformer
    private let machineConfiguration: ServerConnectionStateMachine.Configuration
    private let configuration: ServerConfiguration
    private let logger: Logger
    private let openConnections = Atomic<Int>(0)
    private let checkpointer: Checkpointer

    /// The address the server listens on (with the real port when port 0 was asked for).
    public var localAddress: SocketAddress { self.serverChannel.channel.localAddress! }

    private init(serverChannel: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>, service: LedgerService, keys: DeploymentKeys, configuration: ServerConfiguration, logger: Logger) {
        self.serverChannel = serverChannel
        self.service = service
        self.performer = configuration.echo
            ? EchoService(identityKey: keys.identityKey, maximumAmountCents: configuration.maximumAmountCents) : service
        self.machineConfiguration = ServerConnectionStateMachine.Configuration(
            clientKey: keys.clientKey, identityKey: keys.identityKey, replayWindowMs: configuration.replayWindowMs)
        self.configuration = configuration
        self.logger = logger
        self.checkpointer = Checkpointer(identityKey: keys.identityKey, dataDirectory: configuration.dataDirectory)
    }

    /// Binds the listening socket. Call `run()` to serve.
    public static func bind(configuration: ServerConfiguration, keys: DeploymentKeys, service: LedgerService, logger: Logger) async throws -> IntegraServer {
        let idleTimeout = TimeAmount.milliseconds(configuration.idleTimeoutMs)
        let maximumFrameBytes = configuration.maximumFrameBytes
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 1024)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: configuration.host, port: configuration.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: idleTimeout))
                    try channel.pipeline.syncOperations.addHandler(IdleConnectionCloser())
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder(maximumFrameBytes: maximumFrameBytes)))
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return IntegraServer(serverChannel: channel, service: service, keys: keys, configuration: configuration, logger: logger)
    }

    /// Serves until `shutdown()` is called; then closes every connection.
    public func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await self.pruneNoncesPeriodically() }
            group.addTask { await self.checkpointPeriodically() }
            try await self.serverChannel.executeThenClose { inbound in
                for try await connection in inbound {
                    let open = self.openConnections.wrappingAdd(1, ordering: .relaxed).newValue
                    guard open <= self.configuration.maximumConnections else {
                        self.openConnections.wrappingSubtract(1, ordering: .relaxed)
                        self.logger.warning("connection refused: limit reached", metadata: ["limit": "\(self.configuration.maximumConnections)"])
                        connection.channel.close(promise: nil)
                        continue
                    }
                    group.addTask {
                        defer { self.openConnections.wrappingSubtract(1, ordering: .relaxed) }
                        await self.serve(connection)
                    }
                }
            }
            group.cancelAll()
        }
    }

    /// Stops accepting connections; `run()` then closes the open ones and returns.
    public func shutdown() async {
        try? await self.serverChannel.channel.close()
    }

    private func serve(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async {
        let peer = connection.channel.remoteAddress?.description ?? "unknown"
        var logger = self.logger
        logger[metadataKey: "peer"] = "\(peer)"
        do {
            try await connection.executeThenClose { inbound, outbound in
                var machine = ServerConnectionStateMachine(configuration: self.machineConfiguration)
                try await outbound.write(machine.connectionOpened(nowMs: WallClock.nowMs()))
                var frames = inbound.makeAsyncIterator()
                while true {
                    var action: ServerConnectionStateMachine.Action
                    do {
                        guard let frame = try await frames.next() else { return }
                        action = machine.frameReceived(frame, nowMs: WallClock.nowMs())
                    } catch let error as ProtocolError {
                        action = machine.decodingFailed(error, nowMs: WallClock.nowMs())
                    }
                    while case .perform(let request, let context) = action {
                        let result = await self.performer.perform(request, context: context)
                        if case .failed(let error) = result {
                            logger.notice("request rejected", metadata: ["code": "\(error.code.name)"])
                        }
                        action = machine.requestCompleted(result, nowMs: WallClock.nowMs())
                    }
                    switch action {
                    case .send(let frame):
                        try await outbound.write(frame)
                    case .sendAndClose(let frame):
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

    private func checkpointPeriodically() async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: .milliseconds(self.configuration.checkpointIntervalMs))
            } catch {
                return
            }
            do {
                if let checkpoint = try await self.checkpointer.checkpoint(store: self.service.store, nowMs: WallClock.nowMs()) {
                    self.logger.debug("checkpoint", metadata: ["position": "\(checkpoint.position)"])
                }
            } catch {
                self.logger.warning("checkpoint failed", metadata: ["error": "\(error)"])
            }
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
