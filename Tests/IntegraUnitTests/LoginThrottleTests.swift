import IntegraProtocol
@testable import IntegraServer
import Testing

@Suite struct LoginThrottleTests {
    /// Attempts a login and reports it failed, as a password guesser would.
    private func guess(_ throttle: inout LoginThrottle, account: String = "alice", address: String = "10.0.0.1", device: String? = nil, at nowMs: Int64) -> ThrottleVerdict {
        let attempt = LoginThrottle.Attempt(account: account, address: address, device: device)
        let verdict = throttle.attempted(attempt, nowMs: nowMs)
        if verdict == .allowed { throttle.completed(attempt, outcome: .wrongCredentials, nowMs: nowMs) }
        return verdict
    }

    private static func attempt(_ account: String = "alice", address: String = "10.0.0.1", device: String? = nil) -> LoginThrottle.Attempt {
        LoginThrottle.Attempt(account: account, address: address, device: device)
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
        policy.maximumPendingChecksPerAccount = 100
        var throttle = LoginThrottle(policy: policy)
        for _ in 0..<5 { #expect(throttle.attempted(Self.attempt(), nowMs: 0) == .allowed) }
        #expect(throttle.attempted(Self.attempt(), nowMs: 0) == .throttled(retryAfterMs: LoginThrottle.hourMs),
                "parallel guesses must not slip past the cap")
    }

    @Test func concurrentHonestLoginsAreNotThrottled() {
        var policy = LoginThrottle.Policy()
        policy.maximumPendingChecksPerAccount = 100
        policy.maximumPendingChecksPerAddress = 100
        var throttle = LoginThrottle(policy: policy)
        for _ in 0..<50 { #expect(throttle.attempted(Self.attempt(), nowMs: 0) == .allowed) }
        for _ in 0..<50 { throttle.completed(Self.attempt(), outcome: .succeeded, nowMs: 0) }
        #expect(throttle.attempted(Self.attempt(), nowMs: 0) == .allowed)
    }

    @Test func successClearsTheAccountsRunOfFailures() {
        var throttle = LoginThrottle()
        for _ in 0..<4 { #expect(self.guess(&throttle, at: 0) == .allowed) }
        #expect(throttle.attempted(Self.attempt(), nowMs: 0) == .allowed)
        throttle.completed(Self.attempt(), outcome: .succeeded, nowMs: 0)
        for _ in 0..<4 { #expect(self.guess(&throttle, at: 0) == .allowed) }
    }

    @Test func attemptsThatCheckedNoPasswordAreRefunded() {
        var throttle = LoginThrottle()
        for _ in 0..<20 {
            #expect(throttle.attempted(Self.attempt(), nowMs: 0) == .allowed)
            throttle.completed(Self.attempt(), outcome: .notChecked, nowMs: 0)
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

    @Test func theOwnersDeviceTokenLogsInDuringALockoutStorm() {
        var throttle = LoginThrottle()
        // Someone fails a hundred logins for carol from their own address (in parallel, then more).
        var nowMs: Int64 = 0
        for _ in 0..<200 {
            _ = self.guess(&throttle, account: "carol", address: "203.0.113.9", at: nowMs)
            nowMs += 1_000
        }
        #expect(throttle.attempted(Self.attempt("carol", address: "198.51.100.7"), nowMs: nowMs) != .allowed, "without a token, carol's account is throttled")
        let owner = Self.attempt("carol", address: "198.51.100.7", device: "owner-laptop")
        #expect(throttle.attempted(owner, nowMs: nowMs) == .allowed, "with her device token, carol is not")
        throttle.completed(owner, outcome: .succeeded, nowMs: nowMs)
        // Even from the attacker's own address (a shared network).
        #expect(self.guess(&throttle, account: "carol", address: "203.0.113.9", device: "owner-phone", at: nowMs) == .allowed)
    }

    @Test func failuresWithADeviceTokenAreThrottledPerToken() {
        var throttle = LoginThrottle()
        for _ in 0..<5 { #expect(self.guess(&throttle, device: "stolen", at: 0) == .allowed) }
        #expect(self.guess(&throttle, device: "stolen", at: 0) == .throttled(retryAfterMs: 1_000))
        #expect(self.guess(&throttle, device: "another", at: 0) == .allowed, "another device is not affected")
        #expect(self.guess(&throttle, at: 0) == .allowed, "nor the account's counter for clients without a token")
    }

    @Test func passwordChecksWaitingPerAccountAndPerAddressAreCapped() {
        var throttle = LoginThrottle()
        for _ in 0..<8 { #expect(throttle.attempted(Self.attempt("alice"), nowMs: 0) == .allowed) }
        #expect(throttle.attempted(Self.attempt("alice"), nowMs: 0) == .busy, "a ninth check for one account waits for none")
        for index in 0..<56 { #expect(throttle.attempted(Self.attempt("user\(index)"), nowMs: 0) == .allowed) }
        #expect(throttle.attempted(Self.attempt("someone"), nowMs: 0) == .busy, "64 checks from one address at most")
        #expect(throttle.attempted(Self.attempt("someone", address: "10.0.0.2"), nowMs: 0) == .allowed)
    }

    @Test func sessionRateLimiterAllowsABurstThenTheSustainedRate() {
        var limiter = RequestRateLimiter(ratePerSecond: 10, burst: 3, nowMs: 0)
        var admitted: [Bool] = []
        for nowMs: Int64 in [0, 0, 0, 0, 99, 100, 100, 10_000, 10_000, 10_000, 10_000] {
            admitted.append(limiter.admit(nowMs: nowMs))
        }
        // A burst of three, then one every 100 ms; a long pause refills only up to the burst.
        #expect(admitted == [true, true, true, false, false, true, false, true, true, true, false])
        var perMinute = RequestRateLimiter(ratePerMinute: 2, burst: 1, nowMs: 0)
        #expect(perMinute.admit(nowMs: 0) && !perMinute.admit(nowMs: 29_999) && perMinute.admit(nowMs: 30_000))
    }
}
