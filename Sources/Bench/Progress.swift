import Foundation
import Synchronization

/// Counts finished operations and prints a progress line to standard error once a second.
public final class Progress: Sendable {
    private let completed = Atomic<Int>(0)
    private let failed = Atomic<Int>(0)
    private let quiet: Bool

    public init(quiet: Bool) {
        self.quiet = quiet
    }

    func add(completed: Int = 1) { self.completed.wrappingAdd(completed, ordering: .relaxed) }
    func addFailure() { self.failed.wrappingAdd(1, ordering: .relaxed) }

    /// Runs `body` while printing `label`, the operations done and the rate each second.
    func reporting<T: Sendable>(_ label: String, unit: String, _ body: @Sendable () async throws -> T) async throws -> T {
        self.completed.store(0, ordering: .relaxed)
        self.failed.store(0, ordering: .relaxed)
        let started = ContinuousClock.now
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                var previous = 0
                while (try? await Task.sleep(for: .seconds(1))) != nil {
                    let done = self.completed.load(ordering: .relaxed)
                    let errors = self.failed.load(ordering: .relaxed)
                    let elapsed = (ContinuousClock.now - started).seconds
                    self.log(String(format: "%@: %5.1f s  %d %@ (%d/s now)  errors %d", label, elapsed, done, unit, done - previous, errors))
                    previous = done
                }
            }
            defer { group.cancelAll() }
            return try await body()
        }
    }

    func log(_ line: String) {
        guard !self.quiet else { return }
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
