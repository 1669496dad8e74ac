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
    /// Jobs waiting, one queue per fairness key (the client's address), served round-robin.
    private let queue = Mutex(FairQueue())
    /// A hash of a random password at the same cost, verified when the user does not exist so an
    /// unknown name takes as long as a wrong password.
    private let decoyHash: String
    private let metrics: ServerMetrics

    public init(cost: UInt8, threads: Int, maximumPending: Int, metrics: ServerMetrics = .disabled) {
        precondition(cost >= 4 && cost <= 31 && threads >= 1 && maximumPending >= 1)
        self.cost = cost
        self.metrics = metrics
        self.maximumPending = maximumPending
        self.threadPool = NIOThreadPool(numberOfThreads: threads)
        self.threadPool.start()
        let decoyPassword = (0..<32).map { _ in String(UInt8.random(in: 97...122), radix: 36) }.joined()
        self.decoyHash = Bcrypt.hash(decoyPassword, cost: cost)
    }

    /// A new bcrypt hash of `password`, at this hasher's cost.
    public func hash(_ password: String, fairnessKey: String = "") async throws -> String {
        let cost = self.cost
        return try await self.run(fairnessKey: fairnessKey) { Bcrypt.hash(password, cost: cost) }
    }

    /// Whether `password` matches `hash`. With no hash (unknown user) it verifies against the
    /// decoy, at this hasher's cost, and returns false, taking the same time.
    public func verify(_ password: String, hash: String?, fairnessKey: String = "") async throws -> Bool {
        let decoy = self.decoyHash
        return try await self.run(fairnessKey: fairnessKey) {
            guard let hash else {
                _ = Bcrypt.verify(password, hash: decoy)
                return false
            }
            return Bcrypt.verify(password, hash: hash)
        }
    }

    /// The bcrypt cost a stored hash was made with (`$2b$12$...`), if it is one.
    public static func cost(of hash: String) -> UInt8? {
        let parts = hash.split(separator: "$", omittingEmptySubsequences: true)
        guard parts.count >= 2, parts[0].hasPrefix("2"), parts[1].count == 2 else { return nil }
        return UInt8(parts[1])
    }

    /// Jobs queued or running now (the bcrypt queue's depth).
    public var pendingJobs: Int { max(0, self.pending.load(ordering: .relaxed)) }

    public func shutdown() async {
        try? await self.threadPool.shutdownGracefully()
    }

    /// Runs `body` with a new hasher and shuts the hasher down afterwards, also when `body` throws.
    public static func withHasher<T>(cost: UInt8, threads: Int = 1, maximumPending: Int = 1, _ body: (PasswordHasher) async throws -> T) async throws -> T {
        let hasher = PasswordHasher(cost: cost, threads: threads, maximumPending: maximumPending)
        do {
            let result = try await body(hasher)
            await hasher.shutdown()
            return result
        } catch {
            await hasher.shutdown()
            throw error
        }
    }

    /// Queues `body` under `fairnessKey` and waits for it. Each job queued hands the pool one
    /// turn, and each turn runs the next job round-robin across keys: a key with many jobs
    /// waiting (one address flooding logins) does not delay the jobs of other keys behind it.
    private func run<T: Sendable>(fairnessKey: String, _ body: @escaping @Sendable () -> T) async throws -> T {
        let queued = self.pending.wrappingAdd(1, ordering: .relaxed).newValue
        defer { self.pending.wrappingSubtract(1, ordering: .relaxed) }
        guard queued <= self.maximumPending else { throw Busy() }
        let queuedAt = ContinuousClock.now
        let metrics = self.metrics
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let job = FairQueue.Job(
                run: {
                    metrics.bcryptWaited(nanoseconds: queuedAt.duration(to: .now).nanoseconds)
                    continuation.resume(returning: body())
                },
                cancel: { continuation.resume(throwing: Busy()) })
            self.queue.withLock { $0.enqueue(job, key: fairnessKey) }
            self.threadPool.submit { state in
                guard let next = self.queue.withLock({ $0.dequeue() }) else { return }
                switch state {
                case .active:
                    IdleWorker.lowerCurrentThreadPriority()
                    next.run()
                case .cancelled:
                    next.cancel()
                }
            }
        }
    }
}

/// Waiting jobs by key, taken round-robin across keys.
struct FairQueue: ~Copyable {
    struct Job: Sendable {
        let run: @Sendable () -> Void
        let cancel: @Sendable () -> Void
    }

    private var jobs: [String: [Job]] = [:]
    /// Keys with jobs, in the order they are served.
    private var ring: [String] = []
    private var next = 0

    mutating func enqueue(_ job: Job, key: String) {
        if self.jobs[key] == nil {
            self.jobs[key] = []
            self.ring.append(key)
        }
        self.jobs[key]!.append(job)
    }

    mutating func dequeue() -> Job? {
        guard !self.ring.isEmpty else { return nil }
        if self.next >= self.ring.count { self.next = 0 }
        let key = self.ring[self.next]
        var waiting = self.jobs[key]!
        let job = waiting.removeFirst()
        if waiting.isEmpty {
            self.jobs[key] = nil
            self.ring.remove(at: self.next)
        } else {
            self.jobs[key] = waiting
            self.next += 1
        }
        return job
    }
}
