/// An expected failure of a ledger operation: something a customer, an operator or the store can cause.
///
/// Each case maps to a stable wire error code in the server; the associated text is safe to show
/// to the customer and never contains internals.
public enum LedgerError: Error, Hashable, Sendable {
    case invalidAmount(String)
    case invalidUsername(String)
    case invalidPassword(String)
    case invalidTransferID(String)
    case usernameTaken
    case unknownUser
    case unknownRecipient
    case selfTransfer
    case insufficientFunds
    case balanceOverflow
    case transferIDConflict
    case replayedNonce
    /// The store belongs to a deployment with other keys.
    case deploymentMismatch
    /// The store could not complete the operation; the caller may retry the same request.
    case storeUnavailable(String)
}
