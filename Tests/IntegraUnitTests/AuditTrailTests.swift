import Foundation
import IntegraTestSupport
@testable import IntegraServer
import Logging
import Testing

/// The audit trail's lines are JSON that no customer-chosen text can break or disguise.
@Suite struct AuditTrailTests {
    @Test func auditLinesEscapeControlAndBidirectionalCharacters() throws {
        var line = ""
        AuditTrail.appendJSONString("a\"b\\c\n\u{1}\u{202E}\u{2066}é", to: &line)
        #expect(line == #""a\"b\\c\n\u0001\u202e\u2066é""#)
        let decoded = try JSONSerialization.jsonObject(with: Data("[\(line)]".utf8)) as? [String]
        #expect(decoded == ["a\"b\\c\n\u{1}\u{202E}\u{2066}é"])
    }
}

/// A peer sending garbage as fast as it can must not fill the operators' disk through the audit
/// trail: rejections are recorded up to a rate per address and in all, and the rest counted.
@Suite struct RejectionBudgetTests {
    @Test func oneAddressGetsItsBurstThenIsCountedNotRecorded() {
        var budget = RejectionBudget()
        let burst = RejectionBudget.perAddressBurst
        let admitted = (0..<(burst + 50)).filter { _ in budget.admit(address: "203.0.113.7", nowMs: 1_000).admitted }.count
        #expect(admitted == burst)
        // The next record, from anyone, reports what was left out.
        let other = budget.admit(address: "198.51.100.1", nowMs: 1_000)
        #expect(other.admitted && other.suppressedBefore == 50, "another address is still recorded")
        #expect(!budget.admit(address: "203.0.113.7", nowMs: 1_000).admitted)
        let later = budget.admit(address: "203.0.113.7", nowMs: 61_000)
        #expect(later.admitted && later.suppressedBefore == 1, "a minute later recording resumes")
    }

    @Test func manyAddressesTogetherStopAtTheOverallBudget() {
        var budget = RejectionBudget()
        let admitted = (0..<(RejectionBudget.inAllBurst * 2)).filter { budget.admit(address: "10.0.\($0 / 256).\($0 % 256)", nowMs: 5_000).admitted }.count
        #expect(admitted == RejectionBudget.inAllBurst)
    }

    /// A flood of anonymous rejections from many addresses spends the overall budget; a wrong
    /// password for an account, arriving in the middle of it, is still recorded.
    @Test func aFloodOfFramesFromManyAddressesDoesNotHideAttemptsOnAnAccount() throws {
        try withTemporaryDirectory { directory in
            let trail = AuditTrail(directory: directory.path, logger: Logger(label: "test"))
            let nowMs: Int64 = 1_790_000_000_000
            for index in 0..<(RejectionBudget.inAllBurst * 2) {
                trail.rejected(code: "authentication_failed", reason: "bad MAC", peer: "10.0.\(index / 256).\(index % 256):4000", nowMs: nowMs)
            }
            trail.rejected(code: "invalid_credentials", reason: "wrong password", peer: "192.0.2.51:5000", user: "bob", nowMs: nowMs)
            trail.close()
            let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix("rejections-") }
            let lines = try files.flatMap { try String(contentsOf: directory.appendingPathComponent($0), encoding: .utf8).split(separator: "\n") }
            #expect(lines.filter { $0.contains("authentication_failed") }.count == RejectionBudget.inAllBurst, "the flood stops at the overall budget")
            #expect(lines.contains { $0.contains("invalid_credentials") && $0.contains("bob") && $0.contains("192.0.2.51") }, "the attempt on bob is in the trail")
        }
    }

    @Test func theAddressIsTheHostWithoutItsPort() {
        #expect(RejectionBudget.host(of: "203.0.113.7:5555") == "203.0.113.7")
        #expect(RejectionBudget.host(of: "[2001:db8::1]:443") == "2001:db8::1")
        #expect(RejectionBudget.host(of: "2001:db8::1") == "2001:db8::1")
    }
}
