@testable import IntegraServer
import Testing

/// The count the server's shutdown waits on (requests in flight) and tests wait on (open
/// connections): a waiter wakes when its condition holds, never before, and a cancelled one
/// gives up.
@Suite struct WaitableCountTests {
    @Test func aWaiterWakesWhenTheCountReachesItsCondition() async {
        let count = WaitableCount()
        count.add(2)
        await withTaskGroup(of: Int.self) { group in
            group.addTask {
                await count.wait(until: { $0 == 0 })
                return count.value
            }
            count.add(-1)
            count.add(-1)
            #expect(await group.next() == 0)
        }
    }

    @Test func aConditionThatAlreadyHoldsReturnsAtOnce() async {
        let count = WaitableCount()
        await count.wait(until: { $0 == 0 })
        #expect(count.add(3) == 3)
        await count.wait(until: { $0 > 2 })
    }

    @Test func aCancelledWaiterGivesUp() async {
        let count = WaitableCount()
        count.add(1)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await count.wait(until: { $0 == 0 }) }
            group.cancelAll()
            await group.waitForAll()
        }
        #expect(count.value == 1)
    }
}
