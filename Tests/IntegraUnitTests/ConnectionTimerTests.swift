import Crypto
@testable import IntegraClient
@testable import IntegraProtocol
@testable import IntegraServer
import NIOCore
import NIOEmbedded
import Testing

/// The timers that run on a connection's event loop: the server's handshake deadline, idle
/// timeout, partial-frame timeout and session timer, and the client's reply timeout. Each runs
/// here on an `EmbeddedEventLoop`, whose time moves only with `advanceTime`: a timer fires at
/// its instant to the millisecond, and no test waits for one.
@Suite struct ConnectionTimerTests {
    /// A connection through the handlers the server gives every accepted connection (without
    /// TLS), with the timeouts of `configure`.
    static func serverConnection(_ configure: (inout ServerConfiguration) -> Void = { _ in }) throws -> EmbeddedChannel {
        var configuration = ServerConfiguration()
        configure(&configuration)
        let channel = EmbeddedChannel()
        try IntegraServer.addConnectionHandlers(to: channel.pipeline.syncOperations, configuration: configuration, tlsContext: nil)
        channel.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 1), promise: nil)
        return channel
    }

    static func advance(_ channel: EmbeddedChannel, byMs milliseconds: Int64) {
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(milliseconds))
    }

    /// The error the pipeline reported, as the connection loop receives it.
    static func caughtError(_ channel: EmbeddedChannel) -> (any Error)? {
        do {
            try channel.throwIfErrorCaught()
            return nil
        } catch {
            return error
        }
    }

    static let completeFrame = ProtocolFixtures.frame(type: MessageType.register.rawValue) { $0.string(1, "mallory"); $0.string(2, "long enough password") }

    @Test func silentConnectionIsClosedAfterTheHandshakeTimeout() throws {
        let channel = try Self.serverConnection { $0.handshakeTimeoutMs = 10_000 }
        Self.advance(channel, byMs: 9_999)
        #expect(channel.isActive, "closed before the handshake deadline")
        Self.advance(channel, byMs: 1)
        #expect(!channel.isActive, "the server must close a connection that never completes its handshake")
        #expect((Self.caughtError(channel) as? ProtocolError)?.code == .timeout)
    }

    @Test func theFirstFrameDisarmsTheHandshakeDeadline() throws {
        let channel = try Self.serverConnection { $0.handshakeTimeoutMs = 10_000 }
        try channel.writeInbound(Self.completeFrame)
        #expect(try channel.readInbound(as: ByteBuffer.self) == Self.completeFrame)
        Self.advance(channel, byMs: 60_000)
        #expect(channel.isActive)
        #expect(Self.caughtError(channel) == nil)
    }

    @Test func idleConnectionIsClosedByTheServer() throws {
        let channel = try Self.serverConnection {
            $0.idleTimeoutMs = 30_000
            $0.handshakeTimeoutMs = 600_000
        }
        Self.advance(channel, byMs: 20_000)
        try channel.writeInbound(Self.completeFrame)
        Self.advance(channel, byMs: 29_999)
        #expect(channel.isActive, "each frame restarts the idle timeout")
        Self.advance(channel, byMs: 1)
        #expect(!channel.isActive, "a connection silent for the idle timeout is closed")
    }

    /// Frames whose first bytes arrived but not the rest, as a peer sends who means to hold the
    /// connection a byte at a time.
    static let partialFrames: [(String, ByteBuffer)] = [
        ("length field announcing more bytes than sent", {
            var buffer = ByteBuffer()
            buffer.writeInteger(UInt32(500))
            buffer.writeRepeatingByte(0, count: 100)
            return buffer
        }()),
        ("truncated frame", Self.completeFrame.getSlice(at: 0, length: Self.completeFrame.readableBytes / 2)!),
    ]

    @Test(arguments: Self.partialFrames) func aFrameNotCompletedInTimeIsCutOffWithTimeout(name: String, partial: ByteBuffer) throws {
        let channel = try Self.serverConnection {
            $0.frameTimeoutMs = 10_000
            $0.handshakeTimeoutMs = 600_000
        }
        try channel.writeInbound(partial)
        Self.advance(channel, byMs: 9_999)
        #expect(Self.caughtError(channel) == nil, "\(name): cut off early")
        Self.advance(channel, byMs: 1)
        #expect(Self.caughtError(channel) as? ProtocolError == ProtocolError(.timeout, "a frame was not completed in time"), "\(name)")
        #expect(try channel.readInbound(as: ByteBuffer.self) == nil, "\(name): nothing of it was passed on")
    }

    @Test func aFrameCompletedInTimeIsPassedOn() throws {
        let channel = try Self.serverConnection {
            $0.frameTimeoutMs = 10_000
            $0.handshakeTimeoutMs = 600_000
        }
        var frame = Self.completeFrame
        try channel.writeInbound(frame.readSlice(length: 10)!)
        Self.advance(channel, byMs: 9_999)
        try channel.writeInbound(frame)
        Self.advance(channel, byMs: 60_000)
        #expect(Self.caughtError(channel) == nil)
        #expect(try channel.readInbound(as: ByteBuffer.self) == Self.completeFrame)
    }

    @Test func theSessionTimerFiresAtTheSessionsLifetime() throws {
        let channel = try Self.serverConnection { $0.handshakeTimeoutMs = 600_000 }
        SessionTimer.arm(on: channel, inMs: 60_000)
        channel.embeddedEventLoop.run()
        Self.advance(channel, byMs: 59_999)
        #expect(Self.caughtError(channel) == nil, "the session timer fired before the session's lifetime")
        Self.advance(channel, byMs: 1)
        #expect(Self.caughtError(channel) is SessionTimer.Expired, "the connection loop is told the session expired")
    }

    @Test func theClientGivesUpOnAServerThatDoesNotAnswerInTime() throws {
        let channel = EmbeddedChannel(handler: ReplyTimeoutHandler(timeout: .milliseconds(30_000)))
        channel.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 1), promise: nil)
        Self.advance(channel, byMs: 29_999)
        #expect(channel.isActive)
        Self.advance(channel, byMs: 1)
        #expect(Self.caughtError(channel) is ReplyTimeoutHandler.Timeout)
        #expect(!channel.isActive)
    }

    @Test func aReplyInTimeDisarmsTheClientsTimeout() throws {
        let channel = EmbeddedChannel(handler: ReplyTimeoutHandler(timeout: .milliseconds(30_000)))
        channel.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 1), promise: nil)
        Self.advance(channel, byMs: 29_999)
        try channel.writeInbound(Self.completeFrame)
        Self.advance(channel, byMs: 60_000)
        #expect(channel.isActive)
        #expect(Self.caughtError(channel) == nil)
    }

    /// A server that accepts the connection and never says a word (no hello, no TLS handshake):
    /// the client gives up at its timeout with a timeout error (exit 3 in the CLI), over TLS and
    /// plain TCP alike. The connection is an in-memory channel whose clock the test moves.
    @Test(.timeLimit(.minutes(1)), arguments: [ClientConfiguration.Transport.tls, .plaintext])
    func aServerThatNeverAnswersTimesOut(transport: ClientConfiguration.Transport) async throws {
        let configuration = ClientConfiguration(
            server: "127.0.0.1:1", clientKey: SymmetricKey(size: .bits256), serverIdentityKey: Curve25519.Signing.PrivateKey().publicKey,
            transport: transport, tlsPublicKeySHA256: String(repeating: "ab", count: 32))
        let clientTransport = try ClientTransport(configuration: configuration)
        let pinMismatch = PinMismatchFlag()
        let channel = NIOAsyncTestingChannel()
        let wrapped = try await channel.testingEventLoop.executeInContext {
            try IntegraConnection.wrap(channel, transport: clientTransport, pinMismatch: pinMismatch, timeoutMs: 30_000)
        }
        try await channel.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 1)).get()
        await channel.testingEventLoop.advanceTime(by: .milliseconds(29_999))
        #expect(channel.isActive, "the client gave up before its timeout")
        await channel.testingEventLoop.advanceTime(by: .milliseconds(1))
        await #expect(throws: IntegraClientError(kind: .timeout, message: "the server did not answer in time")) {
            try await IntegraConnection.converse(
                over: wrapped, machineConfiguration: try configuration.stateMachineConfiguration(), clock: .system, pinMismatch: pinMismatch) { _ in }
        }
    }
}
