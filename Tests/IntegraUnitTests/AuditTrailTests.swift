import Foundation
@testable import IntegraServer
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

    @Test func theAddressIsTheHostWithoutItsPort() {
        #expect(RejectionBudget.host(of: "203.0.113.7:5555") == "203.0.113.7")
        #expect(RejectionBudget.host(of: "[2001:db8::1]:443") == "2001:db8::1")
        #expect(RejectionBudget.host(of: "2001:db8::1") == "2001:db8::1")
    }
}
