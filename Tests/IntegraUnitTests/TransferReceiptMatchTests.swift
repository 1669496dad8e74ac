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

/// A refused receipt is refused for what it is: an earlier server's receipt for its signature, a
/// tree receipt (which has no signature of its own) for its proof.
@Suite struct ReceiptRefusalTests {
    @Test func aTreeReceiptIsRefusedForItsProofAndAnOldOneForItsSignature() {
        var receipt = TransferConfirmation(
            transferID: "t-1", position: 1, sender: "alice", recipient: "bob", amount: "1.00", balanceAfter: "0.00", createdAtMs: 0, isRetry: false)
        #expect(IntegraConnection.receiptRefusal(receipt) == "the receipt itself is not signed by the pinned server")
        receipt.treeHead = Array("integra/0000 note".utf8)
        #expect(IntegraConnection.receiptRefusal(receipt).hasPrefix("the receipt is not proven"))
    }
}
