#if MariaDB
import CoreMetrics
import NIOPosix
import Synchronization

/// A fixed-size pool of blocking MariaDB connections, each job run on the pool's own threads.
///
/// Connections are opened lazily and reopened after MariaDB goes away, so the store reconnects by
/// itself. Jobs beyond the pool size wait in a bounded queue; beyond that they fail at once.
final class MariaDBConnectionPool: Sendable {
    struct Exhausted: Error {}

    private struct State: ~Copyable {
        var idle: [MariaDBConnection] = []
        var busy = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
        /// Connections dropped after MariaDB went away and not yet replaced.
        var lost = 0
    }

    private let configuration: MariaDBConfiguration
    private let size: Int
    private let maximumWaiters: Int
    private let threadPool: NIOThreadPool
    private let state = Mutex(State())
    /// Connections opened to replace lost ones (`integra_store_reconnects_total`).
    private let reconnects = Counter(label: "integra_store_reconnects_total")

    init(configuration: MariaDBConfiguration, size: Int, maximumWaiters: Int = 10_000) {
        precondition(size >= 1)
        self.configuration = configuration
        self.size = size
        self.maximumWaiters = maximumWaiters
        self.threadPool = NIOThreadPool(numberOfThreads: size)
        self.threadPool.start()
    }

    /// Runs `body` with a connection on a pool thread. A connection that failed with a lost
    /// connection is dropped; the next job opens a new one.
    func withConnection<T: Sendable>(_ body: @escaping @Sendable (MariaDBConnection) throws -> T) async throws -> T {
        try await self.acquireSlot()
        defer { self.releaseSlot() }
        let configuration = self.configuration
        return try await self.threadPool.runIfActive {
            let connection = try self.state.withLock { $0.idle.popLast() } ?? self.open(configuration)
            do {
                let result = try body(connection)
                self.state.withLock { $0.idle.append(connection) }
                return result
            } catch let error as MariaDBError where error.isConnectionLost {
                self.state.withLock { $0.lost += 1 }
                throw error
            } catch {
                self.state.withLock { $0.idle.append(connection) }
                throw error
            }
        }
    }

    /// Runs `body` on a pool thread with a connection of its own, opened with another read and
    /// write timeout and closed afterwards: for migrations, whose DDL may copy a large table (or
    /// wait for other DDL) far longer than any query of the running server.
    func withDedicatedConnection<T: Sendable>(readWriteTimeoutSeconds: UInt32, _ body: @escaping @Sendable (MariaDBConnection) throws -> T) async throws -> T {
        try await self.acquireSlot()
        defer { self.releaseSlot() }
        var configuration = self.configuration
        configuration.readWriteTimeoutSeconds = readWriteTimeoutSeconds
        return try await self.threadPool.runIfActive { [configuration] in
            try body(try MariaDBConnection(configuration))
        }
    }

    /// Opens a connection; one that replaces a lost connection counts as a reconnect.
    private func open(_ configuration: MariaDBConfiguration) throws -> MariaDBConnection {
        let connection = try MariaDBConnection(configuration)
        let replaced = self.state.withLock { state -> Bool in
            guard state.lost > 0 else { return false }
            state.lost -= 1
            return true
        }
        if replaced { self.reconnects.increment() }
        return connection
    }

    func shutdown() async {
        self.state.withLock { $0.idle.removeAll() }
        try? await self.threadPool.shutdownGracefully()
    }

    private func acquireSlot() async throws {
        enum Decision { case go, wait, refuse }
        let decision: Decision = self.state.withLock { state in
            if state.busy < self.size {
                state.busy += 1
                return .go
            }
            return state.waiters.count < self.maximumWaiters ? .wait : .refuse
        }
        switch decision {
        case .go: return
        case .refuse: throw Exhausted()
        case .wait:
            await withCheckedContinuation { continuation in
                let resumeNow = self.state.withLock { state -> Bool in
                    if state.busy < self.size {
                        state.busy += 1
                        return true
                    }
                    state.waiters.append(continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        }
    }

    private func releaseSlot() {
        let next: CheckedContinuation<Void, Never>? = self.state.withLock { state in
            if state.waiters.isEmpty {
                state.busy -= 1
                return nil
            }
            return state.waiters.removeFirst()
        }
        next?.resume()
    }
}
#endif
