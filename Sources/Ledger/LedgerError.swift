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
    /// A row the request needs failed its integrity check (a seal, a chain link, a balance that
    /// its entries don't explain, a rolled-back ledger): nothing is spent, signed or shown, and
    /// the deployment goes into its alarm state until an operator deals with it.
    case integrityAlarm(IntegrityViolation)
    /// The deployment is in its alarm state: money movements and signatures are refused.
    case alarmRaised
    /// Too many requests are waiting for the store; the caller may retry later.
    case overloaded
    /// The session began before the password was changed (elsewhere): log in again.
    case sessionEnded
}
