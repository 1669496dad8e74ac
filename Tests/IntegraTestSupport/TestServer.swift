import Crypto
package import Foundation
package import IntegraClient
import IntegraFiles
package import IntegraLedger
@testable package import IntegraProtocol
@testable package import IntegraServer
package import IntegraStoreFactory
import Logging
package import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// Runs `body` with a real Integra server on a loopback port, on a new database of `store`, and
/// always shuts the server down gracefully afterwards (also when `body` throws), waiting until it
/// has stopped. Without `directory`, the data directory (keys included) is a new temporary one,
/// removed afterwards; pass one (from `withTemporaryDirectory`) to restart on it.
package func withTestServer<T>(
    _ store: TestStore = .sqlite, directory: URL? = nil, configure: (inout ServerConfiguration) -> Void = { _ in },
    _ body: (TestServer) async throws -> T
) async throws -> T {
    try await withTestServer(database: try store.freshLocation(), directory: directory, configure: configure, body)
}

/// `withTestServer` on a given database (nil: SQLite in the data directory), for instance the
/// `database` of a server that ran before.
package func withTestServer<T>(
    database: DatabaseLocation?, directory: URL? = nil, configure: (inout ServerConfiguration) -> Void = { _ in },
    _ body: (TestServer) async throws -> T
) async throws -> T {
    guard let directory else {
        return try await withTemporaryDirectory { directory in
            try await withTestServer(database: database, directory: directory, configure: configure, body)
        }
    }
    let server = try await TestServer.start(database: database, directory: directory, configure: configure)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await server.run() }
        let result: Result<T, any Error>
        do {
            result = .success(try await body(server))
        } catch {
            result = .failure(error)
        }
        await server.stop()
        try await group.waitForAll()
        return try result.get()
    }
}

/// A real Integra server on a loopback port, run as `integra-server run` runs it: its deployment
/// is the one service of a `ServiceGroup`, and stopping it is the graceful shutdown SIGTERM asks
/// for. Made by `withTestServer`.
package final class TestServer: Sendable {
    package let directory: URL
    package let deployment: IntegraDeployment
    /// The store's location, to restart on the same database.
    package let database: DatabaseLocation?
    private let services: ServiceGroup
    private let stopped = Completion()

    package static let password = "correct horse battery"

    package var port: Int { self.deployment.server.localAddress.port! }
    package var address: String { "127.0.0.1:\(self.port)" }
    package var store: any LedgerStore { self.deployment.store }
    /// The clock the server reads (`ServerConfiguration.clock`).
    package var clock: WallClock { self.deployment.configuration.clock }

    private init(directory: URL, database: DatabaseLocation?, deployment: IntegraDeployment, logger: Logger) {
        self.directory = directory
        self.database = database
        self.deployment = deployment
        self.services = ServiceGroup(configuration: ServiceGroupConfiguration(services: [.init(service: deployment)], logger: logger))
    }

    /// Prepares the deployment and binds its socket; `run()` serves.
    static func start(database: DatabaseLocation?, directory: URL, configure: (inout ServerConfiguration) -> Void) async throws -> TestServer {
        var configuration = ServerConfiguration()
        configuration.database = database
        configuration.host = "127.0.0.1"
        configuration.port = 0
        configuration.dataDirectory = directory.path
        configuration.bcryptCost = ServerConfiguration.minimumBcryptCost
        configuration.createDemoUsers = false
        // The handshake and partial-frame timeouts are proved on an embedded event loop
        // (`ConnectionTimerTests`); here, on a loaded machine, they would only cut slow tests short.
        configuration.handshakeTimeoutMs = 600_000
        configuration.frameTimeoutMs = 600_000
        configure(&configuration)
        var logger = Logger(label: "integra.test")
        logger.logLevel = .warning
        let (deployment, _) = try await IntegraDeployment.start(configuration: configuration, logger: logger)
        return TestServer(directory: directory, database: database, deployment: deployment, logger: logger)
    }

    /// Serves until `stop()`.
    func run() async throws {
        defer { self.stopped.signal() }
        try await self.services.run()
    }

    /// Shuts the server down gracefully, as SIGTERM does, and returns once it has stopped: the
    /// requests in flight answered, the last commit durable, the store closed.
    package func stop() async {
        await self.services.triggerGracefulShutdown()
        await self.stopped.wait()
    }

    package var clientConfiguration: ClientConfiguration {
        get throws { try ClientConfiguration.load(from: self.directory.appendingPathComponent("client.json").path) }
    }

    /// Creates a customer with `TestServer.password` (hashed by the server's own bcrypt pool) and
    /// deposits `cents` into the account.
    package func addCustomer(_ name: String, cents: Int64) async throws {
        let clock = self.clock
        _ = try await Administration.addUser(
            name: name, password: Self.password, store: self.store, hasher: self.deployment.hasher, policy: PasswordPolicy(), clock: clock)
        if cents > 0 {
            _ = try await Administration.deposit(to: name, amount: Amount.format(cents: cents), maximumCents: Int64.max, store: self.store, clock: clock)
        }
    }

    /// Runs `body` on a verified client connection that reads the server's clock (a test's
    /// manual clock moves both, so their frames stay inside each other's replay window).
    @discardableResult
    package func withClient<T>(server: String? = nil, _ body: (IntegraConnection) async throws -> T) async throws -> T {
        try await IntegraConnection.withConnection(
            configuration: self.clientConfiguration, server: server ?? self.address, timeoutMs: 60_000, clock: self.clock, body)
    }

    /// Runs `body` on a raw connection that speaks frames with a test-controlled clock.
    package func withRawSession<T>(_ body: (RawSession) async throws -> T) async throws -> T {
        let configuration = try self.clientConfiguration
        let clientKey = SymmetricKey(data: Data(base64Encoded: configuration.clientKey)!)
        let channel = try await self.connectRaw()
        return try await channel.executeThenClose { inbound, outbound in
            var iterator = inbound.makeAsyncIterator()
            guard let hello = try await iterator.next() else { throw TestFailure("no hello") }
            let raw = try RawFrame(hello)
            guard case .hello(let connectionID, _) = try ServerMessage.decode(type: raw.header.type, body: raw.body) else { throw TestFailure("not hello") }
            var channelState = FrameChannel(connectionID: connectionID, sendDirection: .clientToServer, keys: KeySchedule.preLoginKeys(clientKey: clientKey), replayWindowMs: 120_000)
            _ = try channelState.open(hello, nowMs: self.clock.nowMs())
            let session = RawSession(channel: channelState, clock: self.clock, hello: hello, inbound: iterator, outbound: outbound)
            return try await body(session)
        }
    }

    /// A connection that speaks the configured transport (TLS with the pin, or plain TCP) and
    /// splits frames, and nothing more.
    package func connectRaw() async throws -> NIOAsyncChannel<ByteBuffer, ByteBuffer> {
        let transport = try ClientTransport(configuration: try self.clientConfiguration)
        return try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: self.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try transport.addHandlers(to: channel, pinMismatch: PinMismatchFlag())
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
    }

    /// A connection that completes the transport handshake and is then left idle; close it with
    /// `close()`.
    package func connectIdle() async throws -> any Channel {
        let transport = try ClientTransport(configuration: try self.clientConfiguration)
        return try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try transport.addHandlers(to: channel, pinMismatch: PinMismatchFlag()) }
            }
            .connect(host: "127.0.0.1", port: self.port).get()
    }
}

/// A one-time event any number of tasks wait for: here, the server having stopped.
final class Completion: Sendable {
    private struct State: ~Copyable {
        var done = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    func signal() {
        let waiters = self.state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.done = true
            let waiters = state.waiters
            state.waiters = []
            return waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = self.state.withLock { state -> Bool in
                if !state.done { state.waiters.append(continuation) }
                return state.done
            }
            if done { continuation.resume() }
        }
    }
}

/// A misbehaving client: sends arbitrary bytes or frames with chosen timestamps, reads raw answers.
/// It reads the server's clock.
package final class RawSession {
    package var channel: FrameChannel
    package let clock: WallClock
    package let hello: ByteBuffer
    private var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>

    init(channel: FrameChannel, clock: WallClock, hello: ByteBuffer, inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) {
        self.channel = channel
        self.clock = clock
        self.hello = hello
        self.inbound = inbound
        self.outbound = outbound
    }

    /// Seals a pre-login request with the given timestamp (by default the clock's now) and sends it.
    package func send(_ message: ClientMessage, timestampMs: Int64? = nil) async throws {
        try await self.outbound.write(try self.channel.seal(message.type, nowMs: timestampMs ?? self.clock.nowMs(), body: message.encodeBody))
    }

    /// Sends a correctly authenticated frame with any version, type and body (hostile input
    /// that passes the MAC).
    package func sendCrafted(version: UInt8 = FrameFormat.version, type: UInt8, body: (inout FieldWriter) -> Void) async throws {
        let header = FrameHeader(
            version: version, type: type, direction: .clientToServer, sequence: self.channel.nextSendSequence,
            timestampMs: self.clock.nowMs(), nonce: .random())
        let frame = try FrameSealer.seal(header: header, key: self.channel.keys.key(for: .clientToServer), connectionID: self.channel.connectionID, body: body)
        try await self.outbound.write(frame)
    }

    package func sendBytes(_ bytes: ByteBuffer) async throws {
        try await self.outbound.write(bytes)
    }

    /// The next frame, unverified; nil once the server closed the connection.
    package func receiveRaw() async throws -> ByteBuffer? {
        try await self.inbound.next()
    }

    /// The next frame, verified as a client would.
    package func receive() async throws -> ServerMessage? {
        guard let frame = try await self.receiveRaw() else { return nil }
        let raw = try self.channel.open(frame, nowMs: self.clock.nowMs())
        return try ServerMessage.decode(type: raw.header.type, body: raw.body)
    }

    /// Reads frames until the server closes; returns the error code it sent, if any (unverified).
    package func errorCodeThenClose() async throws -> ErrorCode? {
        var code: ErrorCode?
        while let frame = try await self.receiveRaw() {
            code = Self.errorCode(in: frame)
        }
        return code
    }

    package static func errorCode(in frame: ByteBuffer) -> ErrorCode? {
        guard let raw = try? RawFrame(frame), raw.header.type == MessageType.error.rawValue,
              case .error(let code, _)? = try? ServerMessage.decode(type: raw.header.type, body: raw.body)
        else { return nil }
        return ErrorCode(rawValue: code)
    }
}
