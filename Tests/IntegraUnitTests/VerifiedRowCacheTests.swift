@testable import IntegraLedger
import Testing

struct VerifiedRowCacheTests {
    /// A reader whose snapshot began before a commit must not hold that commit's positions against
    /// its rows: the account would look as if its newest entry had been deleted.
    @Test func positionsPublishedAfterACaptureAreNotKnownToIt() {
        let cache = VerifiedRowCache()
        cache.remember(latestPositions: [(userID: 5, position: 90)])
        let before = cache.knownPositions()
        cache.remember(latestPositions: [(userID: 5, position: 101), (userID: 6, position: 101)])
        #expect(before.latestPosition(of: 5) == nil)
        #expect(before.latestPosition(of: 6) == nil)
        let after = cache.knownPositions()
        #expect(after.latestPosition(of: 5) == 101)
        #expect(after.latestPosition(of: 6) == 101)
    }

    @Test func aKnownPositionNeverGoesDown() {
        let cache = VerifiedRowCache()
        cache.remember(latestPositions: [(userID: 1, position: 40)])
        cache.remember(latestPositions: [(userID: 1, position: 12)])
        #expect(cache.knownPositions().latestPosition(of: 1) == 40)
    }

    @Test func accountsPastTheLimitAreNotRemembered() {
        let cache = VerifiedRowCache(maximumAccounts: 2)
        cache.remember(latestPositions: [(userID: 1, position: 1), (userID: 2, position: 2), (userID: 3, position: 3)])
        let known = cache.knownPositions()
        #expect(known.latestPosition(of: 1) == 1)
        #expect(known.latestPosition(of: 2) == 2)
        #expect(known.latestPosition(of: 3) == nil)
    }
}
