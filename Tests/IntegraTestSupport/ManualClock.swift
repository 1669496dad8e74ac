package import IntegraProtocol
import Synchronization

/// A wall clock that moves only when a test moves it: the server's replay windows, session
/// lifetimes, login backoffs and rate limits then pass exactly when the test says, never while a
/// slow machine runs the test.
package final class ManualClock: Sendable {
    private let currentMs: Atomic<Int64>

    /// Starts at `nowMs`: by default the system's time now, so that frames stamped by a client
    /// on the system clock fall inside the server's replay window.
    package init(nowMs: Int64 = WallClock.system.nowMs()) {
        self.currentMs = Atomic(nowMs)
    }

    package var nowMs: Int64 { self.currentMs.load(ordering: .acquiring) }

    /// Moves the clock forward.
    package func advance(byMs delta: Int64) {
        precondition(delta >= 0, "a wall clock a test moves only goes forward")
        self.currentMs.wrappingAdd(delta, ordering: .acquiringAndReleasing)
    }

    /// The clock to give the server (`ServerConfiguration.clock`).
    package var wallClock: WallClock {
        WallClock { self.nowMs }
    }
}
