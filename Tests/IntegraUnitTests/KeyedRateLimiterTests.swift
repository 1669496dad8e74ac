@testable import IntegraServer
import Testing

struct KeyedRateLimiterTests {
    @Test func eachKeyHasItsOwnBucket() {
        var limiter = KeyedRateLimiter<String>(ratePerMinute: 2, burst: 2, maximumKeys: 10)
        #expect(limiter.admit("a", nowMs: 0) && limiter.admit("a", nowMs: 0))
        #expect(!limiter.wouldAdmit("a", nowMs: 0) && !limiter.admit("a", nowMs: 0))
        #expect(limiter.wouldAdmit("b", nowMs: 0) && limiter.admit("b", nowMs: 0), "another key is not charged")
        #expect(limiter.wouldAdmit("a", nowMs: 30_000), "a token comes back after its share of the minute")
    }

    @Test func pastTheLimitTheLeastRecentlySeenKeysAreForgotten() {
        var limiter = KeyedRateLimiter<Int>(ratePerMinute: 1, burst: 1, maximumKeys: 10)
        for key in 0..<10 { limiter.admit(key, nowMs: Int64(key)) }
        #expect(!limiter.wouldAdmit(0, nowMs: 10) && !limiter.wouldAdmit(9, nowMs: 10))
        limiter.admit(10, nowMs: 10)
        #expect(limiter.wouldAdmit(0, nowMs: 10), "the oldest key was forgotten (a full bucket again)")
        #expect(!limiter.wouldAdmit(9, nowMs: 10), "a recent key is kept")
    }
}
