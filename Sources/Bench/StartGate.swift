/// Holds sessions back until all of them are logged in, then lets them start together.
actor StartGate {
    private let expected: Int
    private var arrived = 0
    private var start: ContinuousClock.Instant?
    private var waiters: [CheckedContinuation<ContinuousClock.Instant, Never>] = []
    private var observers: [CheckedContinuation<ContinuousClock.Instant, Never>] = []

    init(expected: Int) {
        precondition(expected >= 1)
        self.expected = expected
    }

    /// Waits for the others; returns the common start instant.
    func arrive() async -> ContinuousClock.Instant {
        if let start { return start }
        self.arrived += 1
        guard self.arrived < self.expected else {
            let start = ContinuousClock.now
            self.start = start
            for waiter in self.waiters + self.observers { waiter.resume(returning: start) }
            self.waiters = []
            self.observers = []
            return start
        }
        return await withCheckedContinuation { self.waiters.append($0) }
    }

    /// Waits, without taking part, until the sessions start; returns the start instant.
    func started() async -> ContinuousClock.Instant {
        if let start { return start }
        return await withCheckedContinuation { self.observers.append($0) }
    }
}

extension Duration {
    /// The duration in whole nanoseconds.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = self.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    /// The duration in seconds.
    var seconds: Double { Double(self.nanoseconds) / 1e9 }
}
