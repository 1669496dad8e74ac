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

    /// Measures one verify at `cost` on this machine now (the best of `repetitions`).
    public static func measure(cost: UInt8, cores: Int, repetitions: Int = 3) -> BcryptLimit {
        precondition((4...31).contains(cost) && repetitions >= 1)
        let password = "bench-calibration-password"
        let hash = Bcrypt.hash(password, cost: cost)
        var bestMs = Double.infinity
        for _ in 0..<repetitions {
            let started = ContinuousClock.now
            let matches = Bcrypt.verify(password, hash: hash)
            precondition(matches, "bcrypt verifies its own hash")
            bestMs = min(bestMs, (ContinuousClock.now - started).seconds * 1000)
        }
        return BcryptLimit(verifyMs: bestMs, cores: cores)
    }
}
