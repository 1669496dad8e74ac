public import IntegraVerifier
import NIOPosix

/// A thread in Linux's idle scheduling class (`SCHED_IDLE`), for background work that must never
/// slow the server down: any other thread that wakes up takes the core from it at once. The
/// background verifier checks its pages here.
public final class IdleWorker: LedgerCheckExecutor {
    private let threadPool = NIOThreadPool(numberOfThreads: 1)

    public init() {
        self.threadPool.start()
    }

    /// Runs `work` on the idle thread and waits for it; nothing runs once the worker is shut down.
    public func run(_ work: @escaping @Sendable () -> Void) async {
        try? await self.threadPool.runIfActive {
            Self.lowerCurrentThreadPriority()
            work()
        }
    }

    public func shutdown() async {
        try? await self.threadPool.shutdownGracefully()
    }

    /// Moves the calling thread into the idle scheduling class (on Linux the policy belongs to
    /// each thread). Idempotent and cheap; a failure leaves the normal class, which only makes
    /// the work compete with the server's.
    static func lowerCurrentThreadPriority() {
        #if os(Linux)
        // SCHED_IDLE from <sched.h>, which Glibc only declares with _GNU_SOURCE.
        let idlePolicy: Int32 = 5
        var parameters = sched_param(sched_priority: 0)
        // Pid 0 is the calling thread.
        _ = sched_setscheduler(0, idlePolicy, &parameters)
        #endif
    }
}
