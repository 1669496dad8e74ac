import Synchronization

/// A count that tasks can wait on: the requests in flight (the shutdown waits for them to
/// finish) and the open connections. Changing it wakes the waiters whose condition now holds.
final class WaitableCount: Sendable {
    private struct Waiter {
        let id: UInt64
        let condition: @Sendable (Int) -> Bool
        let continuation: CheckedContinuation<Void, Never>
    }

    private struct State: ~Copyable {
        var value = 0
        var waiters: [Waiter] = []
        var nextWaiterID: UInt64 = 0
        /// Waiters cancelled before they were registered.
        var cancelled: Set<UInt64> = []
    }

    private let state = Mutex(State())

    var value: Int { self.state.withLock { $0.value } }

    /// Adds `delta` (negative to subtract) and returns the new value.
    @discardableResult
    func add(_ delta: Int) -> Int {
        let (value, ready) = self.state.withLock { state -> (Int, [Waiter]) in
            state.value += delta
            guard !state.waiters.isEmpty else { return (state.value, []) }
            let value = state.value
            // Each condition once: the ready waiters move to the end, and are taken from there.
            let split = state.waiters.partition { $0.condition(value) }
            let ready = Array(state.waiters[split...])
            state.waiters.removeSubrange(split...)
            return (value, ready)
        }
        for waiter in ready { waiter.continuation.resume() }
        return value
    }

    /// Returns once `condition` holds for the count, or once the task is cancelled.
    func wait(until condition: @escaping @Sendable (Int) -> Bool) async {
        let id = self.state.withLock { state -> UInt64 in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = self.state.withLock { state -> Bool in
                    if state.cancelled.remove(id) != nil || condition(state.value) { return true }
                    state.waiters.append(Waiter(id: id, condition: condition, continuation: continuation))
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = self.state.withLock { state -> Waiter? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else {
                    state.cancelled.insert(id)
                    return nil
                }
                return state.waiters.remove(at: index)
            }
            waiter?.continuation.resume()
        }
    }
}
