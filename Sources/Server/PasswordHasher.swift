import Foundation
import HummingbirdBcrypt
import NIOPosix
import Synchronization

/// Runs bcrypt on its own bounded thread pool so event loops and the store never wait on it.
///
/// At most `maximumPending` jobs may queue; beyond that a job is refused at once (`Busy`) so a
/// login storm sheds load instead of exhausting memory. The pool's threads run in Linux's idle
/// scheduling class (`SCHED_IDLE`): any other thread that wakes up (an event loop with a transfer,
/// the store's writer) takes the core from bcrypt at once, so a login storm cannot raise the
/// latency of sessions that are already logged in. Logins get every core the rest leaves idle:
/// all of them on a quiet server, little on a saturated one, where they queue (up to
/// `maximumPending`, then `server_busy`).
public final class PasswordHasher: Sendable {
    /// Too many hash jobs are waiting.
    public struct Busy: Error {}

    public let cost: UInt8
    private let threadPool: NIOThreadPool
    private let maximumPending: Int
    private let pending = Atomic<Int>(0)
    /// A hash of a random password at the same cost, verified when the user does not exist so an
    /// unknown name takes as long as a wrong password.
    private let decoyHash: String

    public init(cost: UInt8, threads: Int, maximumPending: Int) {
        precondition(cost >= 4 && cost <= 31 && threads >= 1 && maximumPending >= 1)
        self.cost = cost
        self.maximumPending = maximumPending
        self.threadPool = NIOThreadPool(numberOfThreads: threads)
        self.threadPool.start()
        let decoyPassword = (0..<32).map { _ in String(UInt8.random(in: 97...122), radix: 36) }.joined()
        self.decoyHash = Bcrypt.hash(decoyPassword, cost: cost)
    }

    /// A new bcrypt hash of `password`.
    public func hash(_ password: String) async throws -> String {
        let cost = self.cost
        return try await self.run { Bcrypt.hash(password, cost: cost) }
    }

    /// Whether `password` matches `hash`. With no hash (unknown user) it verifies against the
    /// decoy and returns false, taking the same time.
    public func verify(_ password: String, hash: String?) async throws -> Bool {
        let decoy = self.decoyHash
        return try await self.run {
            guard let hash else {
                _ = Bcrypt.verify(password, hash: decoy)
                return false
            }
            return Bcrypt.verify(password, hash: hash)
        }
    }

    public func shutdown() async {
        try? await self.threadPool.shutdownGracefully()
    }

    private func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async throws -> T {
        let queued = self.pending.wrappingAdd(1, ordering: .relaxed).newValue
        defer { self.pending.wrappingSubtract(1, ordering: .relaxed) }
        guard queued <= self.maximumPending else { throw Busy() }
        return try await self.threadPool.runIfActive {
            IdleWorker.lowerCurrentThreadPriority()
            return body()
        }
    }
}
