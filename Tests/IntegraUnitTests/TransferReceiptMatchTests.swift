@testable import IntegraClient
import IntegraProtocol
import Testing

/// The client takes a receipt as the answer to a transfer only if it is for that transfer.
@Suite struct TransferReceiptMatchTests {
    @Test func aReceiptForAnotherTransferIsNeverTakenAsTheAnswer() {
        let receipt = TransferConfirmation(
            transferID: "rent", position: 7, sender: "alice", recipient: "mallory", amount: "7.00", balanceAfter: "993.00", createdAtMs: 1, isRetry: false)
        let asked = IntegraConnection.mismatch(receipt, transferID: "rent", sender: "alice", recipient: "bob", amount: "7.00")
        #expect(asked != nil && asked!.contains("mallory"), "\(String(describing: asked))")
        #expect(IntegraConnection.mismatch(receipt, transferID: "rent", sender: "alice", recipient: "Mallory", amount: "7") == nil, "the same transfer, typed another way")
        #expect(IntegraConnection.mismatch(receipt, transferID: "rent", sender: "alice", recipient: "ｍａｌｌｏｒｙ", amount: "7.0") == nil)
        #expect(IntegraConnection.mismatch(receipt, transferID: "rent", sender: "alice", recipient: "mallory", amount: "70.00") != nil)
        #expect(IntegraConnection.mismatch(receipt, transferID: "other", sender: "alice", recipient: "mallory", amount: "7.00") != nil)
        #expect(IntegraConnection.mismatch(receipt, transferID: "rent", sender: "bob", recipient: "mallory", amount: "7.00") != nil)
    }
}
