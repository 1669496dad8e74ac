import IntegraProtocol
import IntegraTestSupport
import NIOCore
import NIOPosix

/// Runs `body` with a man in the middle on loopback that relays whole frames between clients
/// and the server on `upstreamPort` and lets the test change them on the way; afterwards the
/// proxy stops listening and its relays are ended and awaited.
func withTamperingProxy<T>(upstreamPort: Int, tamper: @escaping TamperingProxy.Tamper, _ body: (TamperingProxy) async throws -> T) async throws -> T {
    let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .bind(host: "127.0.0.1", port: 0) { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
                return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
            }
        }
    let proxy = TamperingProxy(port: listener.channel.localAddress!.port!)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
            try await withThrowingDiscardingTaskGroup { relays in
                try await listener.executeThenClose { inbound in
                    for try await client in inbound {
                        relays.addTask { try? await TamperingProxy.relay(client: client, upstreamPort: upstreamPort, tamper: tamper) }
                    }
                }
                relays.cancelAll()
            }
        }
        let result: Result<T, any Error>
        do {
            result = .success(try await body(proxy))
        } catch {
            result = .failure(error)
        }
        try? await listener.channel.close()
        group.cancelAll()
        try? await group.waitForAll()
        return try result.get()
    }
}

/// A man in the middle on loopback (`withTamperingProxy`).
struct TamperingProxy: Sendable {
    typealias Tamper = @Sendable (_ direction: Direction, _ index: Int, _ frame: inout ByteBuffer) -> Void

    let port: Int

    var address: String { "127.0.0.1:\(self.port)" }

    fileprivate static func relay(client: NIOAsyncChannel<ByteBuffer, ByteBuffer>, upstreamPort: Int, tamper: @escaping Tamper) async throws {
        let server = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: upstreamPort) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        try await client.executeThenClose { clientIn, clientOut in
            try await server.executeThenClose { serverIn, serverOut in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        var index = 0
                        for try await var frame in clientIn {
                            tamper(.clientToServer, index, &frame)
                            index += 1
                            try await serverOut.write(frame)
                        }
                    }
                    group.addTask {
                        var index = 0
                        for try await var frame in serverIn {
                            tamper(.serverToClient, index, &frame)
                            index += 1
                            try await clientOut.write(frame)
                        }
                    }
                    try await group.next()
                    group.cancelAll()
                }
            }
        }
    }
}
