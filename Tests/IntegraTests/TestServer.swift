import Crypto
import Foundation
import IntegraClient
import IntegraFiles
import IntegraLedger
@testable import IntegraProtocol
@testable import IntegraServer
import IntegraStoreFactory
import Logging
import NIOCore
import NIOPosix

/// A real Integra server on a loopback port and a temporary data directory.
final class TestServer: Sendable {
    let directory: URL
    let deployment: IntegraDeployment
    private let runTask: Task<Void, any Error>

    static let password = "correct horse battery"

    var port: Int { self.deployment.server.localAddress.port! }
    var address: String { "127.0.0.1:\(self.port)" }
    var store: any LedgerStore { self.deployment.store }

    /// The store's location, to restart on the same database.
    let database: DatabaseLocation?

    private init(directory: URL, database: DatabaseLocation?, deployment: IntegraDeployment) {
        self.directory = directory
        self.database = database
        self.deployment = deployment
        self.runTask = Task { try await deployment.run() }
    }

    /// Starts a server; pass the directory (and port) of a stopped one to restart it.
    static func start(_ store: TestStore = .sqlite, directory: URL = TemporaryDirectory.make(), port: Int = 0, configure: (inout ServerConfiguration) -> Void = { _ in }) async throws -> TestServer {
        try await Self.start(database: try store.freshLocation(), directory: directory, port: port, configure: configure)
    }

    /// Starts a server on a given database (nil: SQLite in the data directory).
    static func start(database: DatabaseLocation?, directory: URL = TemporaryDirectory.make(), port: Int = 0, configure: (inout ServerConfiguration) -> Void = { _ in }) async throws -> TestServer {
        var configuration = ServerConfiguration()
        configuration.database = database
        configuration.host = "127.0.0.1"
        configuration.port = port
        configuration.dataDirectory = directory.path
        configuration.bcryptCost = ServerConfiguration.minimumBcryptCost
        configuration.createDemoUsers = false
        configure(&configuration)
        var logger = Logger(label: "integra.test")
        logger.logLevel = .warning
        let (deployment, _) = try await IntegraDeployment.start(configuration: configuration, logger: logger)
        return TestServer(directory: directory, database: database, deployment: deployment)
    }

    func stop() async {
        await self.deployment.shutdown()
        _ = try? await self.runTask.value
    }

    var clientConfiguration: ClientConfiguration {
        get throws { try ClientConfiguration.load(from: self.directory.appendingPathComponent("client.json").path) }
    }

    /// Creates a customer with `TestServer.password` and deposits `cents` into the account.
    func addCustomer(_ name: String, cents: Int64) async throws {
        let hasher = PasswordHasher(cost: ServerConfiguration.minimumBcryptCost, threads: 1, maximumPending: 4)
        _ = try await Administration.addUser(name: name, password: Self.password, store: self.store, hasher: hasher, policy: PasswordPolicy())
        await hasher.shutdown()
        if cents > 0 {
            _ = try await Administration.deposit(to: name, amount: Amount.format(cents: cents), maximumCents: Int64.max, store: self.store)
        }
    }

    /// Runs `body` on a verified client connection.
    @discardableResult
    func withClient<T>(server: String? = nil, _ body: (IntegraConnection) async throws -> T) async throws -> T {
        try await IntegraConnection.withConnection(configuration: self.clientConfiguration, server: server ?? self.address, timeoutMs: 60_000, body)
    }

    /// Runs `body` on a raw connection that speaks frames with a test-controlled clock.
    func withRawSession<T>(_ body: (RawSession) async throws -> T) async throws -> T {
        let configuration = try self.clientConfiguration
        let clientKey = SymmetricKey(data: Data(base64Encoded: configuration.clientKey)!)
        let channel = try await self.connectRaw()
        return try await channel.executeThenClose { inbound, outbound in
            var iterator = inbound.makeAsyncIterator()
            guard let hello = try await iterator.next() else { throw TestFailure("no hello") }
            let raw = try RawFrame(hello)
            guard case .hello(let connectionID, _) = try ServerMessage.decode(type: raw.header.type, body: raw.body) else { throw TestFailure("not hello") }
            var channelState = FrameChannel(connectionID: connectionID, sendDirection: .clientToServer, keys: KeySchedule.preLoginKeys(clientKey: clientKey), replayWindowMs: 120_000)
            _ = try channelState.open(hello, nowMs: WallClock.nowMs())
            let session = RawSession(channel: channelState, hello: hello, inbound: iterator, outbound: outbound)
            return try await body(session)
        }
    }
}

extension TestServer {
    /// A connection that speaks the configured transport (TLS with the pin, or plain TCP) and
    /// splits frames, and nothing more.
    func connectRaw() async throws -> NIOAsyncChannel<ByteBuffer, ByteBuffer> {
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
}

extension TestServer {
    /// A connection that completes the transport handshake and is then left idle; close it with
    /// `close()`.
    func connectIdle() async throws -> any Channel {
        let transport = try ClientTransport(configuration: try self.clientConfiguration)
        return try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try transport.addHandlers(to: channel, pinMismatch: PinMismatchFlag()) }
            }
            .connect(host: "127.0.0.1", port: self.port).get()
    }
}

/// A misbehaving client: sends arbitrary bytes or frames with chosen timestamps, reads raw answers.
final class RawSession {
    var channel: FrameChannel
    let hello: ByteBuffer
    private var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>

    init(channel: FrameChannel, hello: ByteBuffer, inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) {
        self.channel = channel
        self.hello = hello
        self.inbound = inbound
        self.outbound = outbound
    }

    /// Seals a pre-login request with the given timestamp and sends it.
    func send(_ message: ClientMessage, timestampMs: Int64 = WallClock.nowMs()) async throws {
        try await self.outbound.write(try self.channel.seal(message.type, nowMs: timestampMs, body: message.encodeBody))
    }

    /// Sends a correctly authenticated frame with any version, type and body (hostile input
    /// that passes the MAC).
    func sendCrafted(version: UInt8 = FrameFormat.version, type: UInt8, body: (inout FieldWriter) -> Void) async throws {
        let header = FrameHeader(
            version: version, type: type, direction: .clientToServer, sequence: self.channel.nextSendSequence,
            timestampMs: WallClock.nowMs(), nonce: .random())
        let frame = try FrameSealer.seal(header: header, key: self.channel.keys.key(for: .clientToServer), connectionID: self.channel.connectionID, body: body)
        try await self.outbound.write(frame)
    }

    func sendBytes(_ bytes: ByteBuffer) async throws {
        try await self.outbound.write(bytes)
    }

    /// The next frame, unverified; nil once the server closed the connection.
    func receiveRaw() async throws -> ByteBuffer? {
        try await self.inbound.next()
    }

    /// The next frame, verified as a client would.
    func receive() async throws -> ServerMessage? {
        guard let frame = try await self.receiveRaw() else { return nil }
        let raw = try self.channel.open(frame, nowMs: WallClock.nowMs())
        return try ServerMessage.decode(type: raw.header.type, body: raw.body)
    }

    /// Reads frames until the server closes; returns the error code it sent, if any (unverified).
    func errorCodeThenClose() async throws -> ErrorCode? {
        var code: ErrorCode?
        while let frame = try await self.receiveRaw() {
            code = Self.errorCode(in: frame)
        }
        return code
    }

    static func errorCode(in frame: ByteBuffer) -> ErrorCode? {
        guard let raw = try? RawFrame(frame), raw.header.type == MessageType.error.rawValue,
              case .error(let code, _)? = try? ServerMessage.decode(type: raw.header.type, body: raw.body)
        else { return nil }
        return ErrorCode(rawValue: code)
    }
}
