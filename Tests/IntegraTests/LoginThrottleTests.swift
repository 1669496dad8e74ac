@testable import IntegraServer
import Testing

@Suite struct LoginThrottleTests {
    /// Attempts a login and reports it failed, as a password guesser would.
    private func guess(_ throttle: inout LoginThrottle, account: String = "alice", address: String = "10.0.0.1", at nowMs: Int64) -> LoginThrottle.Decision {
        let decision = throttle.loginAttempted(account: account, address: address, nowMs: nowMs)
        if decision == .allowed { throttle.loginCompleted(account: account, address: address, outcome: .wrongCredentials, nowMs: nowMs) }
        return decision
    }

    @Test func backoffStartsAfterFiveFailuresAndDoubles() {
        var throttle = LoginThrottle()
        for _ in 0..<4 { #expect(self.guess(&throttle, at: 0) == .allowed) }
        #expect(self.guess(&throttle, at: 0) == .allowed)
        #expect(self.guess(&throttle, at: 0) == .throttled(retryAfterMs: 1_000))
        #expect(self.guess(&throttle, at: 1_000) == .allowed)
        #expect(self.guess(&throttle, at: 1_000) == .throttled(retryAfterMs: 2_000))
        #expect(self.guess(&throttle, at: 3_000) == .allowed)
        #expect(self.guess(&throttle, at: 3_000) == .throttled(retryAfterMs: 4_000))
    }

    @Test func atMostOneHundredFailedAttemptsPerAccountPerHourEvenWithTinyBackoff() {
        var policy = LoginThrottle.Policy()
        policy.maximumBackoffMs = 1
        policy.freeFailuresPerAddress = 1_000_000
        policy.maximumFailuresPerAddressPerHour = 1_000_000
        var throttle = LoginThrottle(policy: policy)
        var allowed = 0
        var nowMs: Int64 = 0
        while nowMs < LoginThrottle.hourMs {
            if self.guess(&throttle, at: nowMs) == .allowed { allowed += 1 }
            nowMs += 10
        }
        #expect(allowed == 100)
        #expect(self.guess(&throttle, at: LoginThrottle.hourMs) == .allowed, "the next hour allows attempts again")
    }

    @Test func attemptsInFlightCountAgainstTheHourlyCap() {
        var policy = LoginThrottle.Policy()
        policy.maximumFailuresPerAccountPerHour = 5
        var throttle = LoginThrottle(policy: policy)
        for _ in 0..<5 { #expect(throttle.loginAttempted(account: "alice", address: "10.0.0.1", nowMs: 0) == .allowed) }
        #expect(throttle.loginAttempted(account: "alice", address: "10.0.0.1", nowMs: 0) == .throttled(retryAfterMs: LoginThrottle.hourMs),
                "parallel guesses must not slip past the cap")
    }

    @Test func concurrentHonestLoginsAreNotThrottled() {
        var throttle = LoginThrottle()
        for _ in 0..<50 { #expect(throttle.loginAttempted(account: "alice", address: "10.0.0.1", nowMs: 0) == .allowed) }
        for _ in 0..<50 { throttle.loginCompleted(account: "alice", address: "10.0.0.1", outcome: .succeeded, nowMs: 0) }
        #expect(throttle.loginAttempted(account: "alice", address: "10.0.0.1", nowMs: 0) == .allowed)
    }

    @Test func successClearsTheAccountsRunOfFailures() {
        var throttle = LoginThrottle()
        for _ in 0..<4 { #expect(self.guess(&throttle, at: 0) == .allowed) }
        #expect(throttle.loginAttempted(account: "alice", address: "10.0.0.1", nowMs: 0) == .allowed)
        throttle.loginCompleted(account: "alice", address: "10.0.0.1", outcome: .succeeded, nowMs: 0)
        for _ in 0..<4 { #expect(self.guess(&throttle, at: 0) == .allowed) }
    }

    @Test func attemptsThatCheckedNoPasswordAreRefunded() {
        var throttle = LoginThrottle()
        for _ in 0..<20 {
            #expect(throttle.loginAttempted(account: "alice", address: "10.0.0.1", nowMs: 0) == .allowed)
            throttle.loginCompleted(account: "alice", address: "10.0.0.1", outcome: .notChecked, nowMs: 0)
        }
    }

    @Test func oneAddressSprayingManyAccountsIsSlowedDown() {
        var throttle = LoginThrottle()
        for index in 0..<20 { #expect(self.guess(&throttle, account: "user\(index)", at: 0) == .allowed) }
        #expect(self.guess(&throttle, account: "fresh", at: 0) != .allowed)
        #expect(self.guess(&throttle, account: "fresh", address: "10.0.0.2", at: 0) == .allowed, "other addresses are not affected")
    }

    @Test func registrationsPerAddressAreCappedPerHour() {
        var throttle = LoginThrottle()
        for _ in 0..<20 { #expect(throttle.registrationAttempted(address: "10.0.0.1", nowMs: 0) == .allowed) }
        #expect(throttle.registrationAttempted(address: "10.0.0.1", nowMs: 60_000) == .throttled(retryAfterMs: LoginThrottle.hourMs - 60_000))
        #expect(throttle.registrationAttempted(address: "10.0.0.2", nowMs: 0) == .allowed)
        #expect(throttle.registrationAttempted(address: "10.0.0.1", nowMs: LoginThrottle.hourMs) == .allowed)
    }

    @Test func trackedAccountsStayBounded() {
        var policy = LoginThrottle.Policy()
        policy.maximumTrackedKeys = 10
        var throttle = LoginThrottle(policy: policy)
        for index in 0..<1_000 { _ = self.guess(&throttle, account: "user\(index)", address: "10.0.\(index / 250).\(index % 250)", at: Int64(index)) }
        #expect(throttle.accounts.count <= 10)
        #expect(throttle.addresses.count <= 10)
    }

    @Test func sessionRateLimiterAllowsABurstThenTheSustainedRate() {
        var limiter = RequestRateLimiter(ratePerSecond: 10, burst: 3, nowMs: 0)
        var admitted: [Bool] = []
        for nowMs: Int64 in [0, 0, 0, 0, 99, 100, 100, 10_000, 10_000, 10_000, 10_000] {
            admitted.append(limiter.admit(nowMs: nowMs))
        }
        // A burst of three, then one every 100 ms; a long pause refills only up to the burst.
        #expect(admitted == [true, true, true, false, false, true, false, true, true, true, false])
    }
}
