import Foundation
import HummingbirdBcrypt

/// The throughput ceiling of workloads that log in for every operation: every login costs one
/// bcrypt verify, and the server runs one verify per core at a time.
public struct BcryptLimit: Hashable, Sendable {
    public let verifyMs: Double
    public let cores: Int

    public init(verifyMs: Double, cores: Int) {
        precondition(verifyMs > 0 && cores >= 1)
        self.verifyMs = verifyMs
        self.cores = cores
    }

    /// Logins per second when every core does nothing but bcrypt: cores ÷ verify time.
    public var loginsPerSecond: Double { Double(self.cores) / (self.verifyMs / 1000) }

    /// Measures the CPU time of one verify at `cost` on this machine (the best of `repetitions`).
    /// CPU time of the measuring thread, not elapsed time, so other work on a shared machine does
    /// not inflate it: the limit is what the cores could do if bcrypt had them to itself.
    public static func measure(cost: UInt8, cores: Int, repetitions: Int = 3) -> BcryptLimit {
        precondition((4...31).contains(cost) && repetitions >= 1)
        let password = "bench-calibration-password"
        let hash = Bcrypt.hash(password, cost: cost)
        var bestMs = Double.infinity
        for _ in 0..<repetitions {
            let started = Self.threadCPUMs()
            let matches = Bcrypt.verify(password, hash: hash)
            precondition(matches, "bcrypt verifies its own hash")
            bestMs = min(bestMs, Self.threadCPUMs() - started)
        }
        return BcryptLimit(verifyMs: max(bestMs, 0.001), cores: cores)
    }

    /// CPU time of the calling thread in milliseconds.
    static func threadCPUMs() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Double(time.tv_sec) * 1000 + Double(time.tv_nsec) / 1e6
    }
}
