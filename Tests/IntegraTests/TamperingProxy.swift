import IntegraProtocol
import NIOCore
import NIOPosix

/// A man in the middle on loopback: relays whole frames between a client and a server and lets
/// a test change them on the way.
final class TamperingProxy: Sendable {
    typealias Tamper = @Sendable (_ direction: Direction, _ index: Int, _ frame: inout ByteBuffer) -> Void

    private let listener: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>
    private let task: Task<Void, any Error>

    var address: String { "127.0.0.1:\(self.listener.channel.localAddress!.port!)" }

    init(upstreamPort: Int, tamper: @escaping Tamper) async throws {
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        self.listener = listener
        self.task = Task {
            try await withThrowingDiscardingTaskGroup { group in
                try await listener.executeThenClose { inbound in
                    for try await client in inbound {
                        group.addTask { try? await Self.relay(client: client, upstreamPort: upstreamPort, tamper: tamper) }
                    }
                }
            }
        }
    }

    func stop() async {
        try? await self.listener.channel.close()
        self.task.cancel()
    }

    private static func relay(client: NIOAsyncChannel<ByteBuffer, ByteBuffer>, upstreamPort: Int, tamper: @escaping Tamper) async throws {
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
