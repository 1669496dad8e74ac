/// Collects write requests from many connections and commits them to the store in groups.
///
/// While one commit is in flight, new requests queue; when it finishes, everything queued (up to
/// `maximumBatchSize`) goes into the next store transaction. There is no artificial wait: under
/// light load a batch holds one request, under heavy load batches grow and fsyncs are shared.
public actor GroupCommitter {
    private typealias Waiter = CheckedContinuation<WriteOutcome, Never>

    private let store: any LedgerStore
    private let maximumBatchSize: Int
    private let maximumPending: Int
    private let clock: @Sendable () -> Int64
    private var pending: [(request: WriteRequest, waiter: Waiter)] = []
    private var isFlushing = false
    private var drainWaiters: [CheckedContinuation<Void, Never>] = []
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
        precondition(maximumBatchSize >= 1 && maximumPending >= maximumBatchSize)
        self.observer = observer
        self.store = store
        self.maximumBatchSize = maximumBatchSize
        self.maximumPending = maximumPending
        self.clock = clock
    }

    /// Queues one request and returns its outcome once its group is durable (or rejected).
    public func submit(_ request: WriteRequest) async -> WriteOutcome {
        guard self.pending.count < self.maximumPending else {
            return .rejected(.overloaded)
        }
        return await withCheckedContinuation { (waiter: Waiter) in
            self.pending.append((request, waiter))
            if !self.isFlushing {
                self.isFlushing = true
                Task { await self.flush() }
            }
        }
    }

    private static func nanoseconds(since start: ContinuousClock.Instant) -> Int64 {
        let (seconds, attoseconds) = (ContinuousClock.now - start).components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    /// Waits until every request submitted so far has been committed or rejected.
    public func drain() async {
        guard self.isFlushing else { return }
        await withCheckedContinuation { self.drainWaiters.append($0) }
    }

    private func flush() async {
        while !self.pending.isEmpty {
            let count = min(self.pending.count, self.maximumBatchSize)
            let batch = Array(self.pending.prefix(count))
            self.pending.removeFirst(count)
            let outcomes: [WriteOutcome]
            let started = ContinuousClock.now
            do {
                outcomes = try await self.store.commit(batch.map(\.request), nowMs: self.clock())
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
        self.isFlushing = false
        let waiters = self.drainWaiters
        self.drainWaiters = []
        for waiter in waiters { waiter.resume() }
    }
}
