/// Collects write requests from many connections and commits them to the store in groups.
///
/// `run()` is the committer's flush loop (a service of the deployment): while one commit is in
/// flight, new requests queue; when it finishes, everything queued (up to `maximumBatchSize`)
/// goes into the next store transaction. There is no artificial wait: under light load a batch
/// holds one request, under heavy load batches grow and fsyncs are shared. After `stop()` (or
/// when its task is cancelled) it commits what is queued and returns; requests submitted after
/// that are refused.
public actor GroupCommitter {
    private typealias Waiter = CheckedContinuation<WriteOutcome, Never>

    /// Commits one group in one transaction: one outcome per request, in order.
    public typealias Commit = @Sendable (_ requests: [WriteRequest], _ nowMs: Int64) async throws(LedgerError) -> [WriteOutcome]

    private let commit: Commit
    private let maximumBatchSize: Int
    private let maximumPending: Int
    private let clock: @Sendable () -> Int64
    private var pending: [(request: WriteRequest, waiter: Waiter)] = []
    /// Wakes the flush loop when requests arrive (at most one wake-up is kept).
    private let work: AsyncStream<Void>
    private let workArrived: AsyncStream<Void>.Continuation
    private var stopped = false
    /// Told about every store transaction: its batch size, its duration in nanoseconds, and
    /// whether it failed (metrics).
    private let observer: @Sendable (_ batchSize: Int, _ nanoseconds: Int64, _ failed: Bool) -> Void

    /// - Parameters:
    ///   - maximumBatchSize: requests per store transaction.
    ///   - maximumPending: requests allowed to wait; beyond it new requests are shed as `overloaded`.
    ///   - clock: milliseconds since the Unix epoch, stamped on committed entries.
    public init(
        store: any LedgerStore, maximumBatchSize: Int = 512, maximumPending: Int = 20_000, clock: @escaping @Sendable () -> Int64,
        observer: @escaping @Sendable (_ batchSize: Int, _ nanoseconds: Int64, _ failed: Bool) -> Void = { _, _, _ in }
    ) {
        self.init(
            commit: { requests, nowMs throws(LedgerError) in try await store.commit(requests, nowMs: nowMs) },
            maximumBatchSize: maximumBatchSize, maximumPending: maximumPending, clock: clock, observer: observer)
    }

    /// A committer whose groups go to `commit` instead of a store (the echo baseline's ledger
    /// in memory).
    public init(
        commit: @escaping Commit, maximumBatchSize: Int = 512, maximumPending: Int = 20_000, clock: @escaping @Sendable () -> Int64,
        observer: @escaping @Sendable (_ batchSize: Int, _ nanoseconds: Int64, _ failed: Bool) -> Void = { _, _, _ in }
    ) {
        precondition(maximumBatchSize >= 1 && maximumPending >= maximumBatchSize)
        self.observer = observer
        self.commit = commit
        self.maximumBatchSize = maximumBatchSize
        self.maximumPending = maximumPending
        self.clock = clock
        (self.work, self.workArrived) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Queues one request and returns its outcome once its group is durable (or rejected).
    /// Refused as `overloaded` beyond `maximumPending` and once the flush loop has stopped.
    public func submit(_ request: WriteRequest) async -> WriteOutcome {
        guard self.pending.count < self.maximumPending, !self.stopped else {
            return .rejected(.overloaded)
        }
        return await withCheckedContinuation { (waiter: Waiter) in
            self.pending.append((request, waiter))
            self.workArrived.yield()
        }
    }

    /// Commits queued requests in groups until `stop()` or until the task is cancelled; then
    /// commits what is still queued and returns.
    public func run() async {
        for await _ in self.work {
            await self.flush()
        }
        await self.flush()
        self.stopped = true
    }

    /// Ends `run()` once what is queued now is committed.
    public nonisolated func stop() {
        self.workArrived.finish()
    }

    private static func nanoseconds(since start: ContinuousClock.Instant) -> Int64 {
        let (seconds, attoseconds) = (ContinuousClock.now - start).components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    private func flush() async {
        while !self.pending.isEmpty {
            let count = min(self.pending.count, self.maximumBatchSize)
            let batch = Array(self.pending.prefix(count))
            self.pending.removeFirst(count)
            let outcomes: [WriteOutcome]
            let started = ContinuousClock.now
            do {
                outcomes = try await self.commit(batch.map(\.request), self.clock())
                precondition(outcomes.count == batch.count, "a store returns one outcome per request")
                self.observer(batch.count, Self.nanoseconds(since: started), false)
            } catch {
                outcomes = Array(repeating: .rejected(error), count: batch.count)
                self.observer(batch.count, Self.nanoseconds(since: started), true)
            }
            for (item, outcome) in zip(batch, outcomes) {
                item.waiter.resume(returning: outcome)
            }
        }
    }
}
