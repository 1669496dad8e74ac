@testable import IntegraServer
import Synchronization
import Testing

@Suite struct FairQueueTests {
    @Test func oneAddressFloodingDoesNotDelayAnotherAddressBehindIt() {
        let order = Mutex<[String]>([])
        var queue = FairQueue()
        func job(_ name: String) -> FairQueue.Job {
            FairQueue.Job(run: { order.withLock { $0.append(name) } }, cancel: {})
        }
        for index in 0..<10 { queue.enqueue(job("flood\(index)"), key: "203.0.113.9") }
        queue.enqueue(job("owner"), key: "198.51.100.7")
        queue.enqueue(job("other"), key: "192.0.2.1")
        while let next = queue.dequeue() { next.run() }
        let served = order.withLock { $0 }
        #expect(served.count == 12)
        #expect(served.firstIndex(of: "owner")! <= 2 && served.firstIndex(of: "other")! <= 2, "\(served)")
        #expect(served.filter { $0.hasPrefix("flood") } == (0..<10).map { "flood\($0)" }, "one key's jobs keep their order")
    }
}
