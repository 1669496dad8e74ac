public import IntegraProtocol

/// What the connection loop asks to carry out an authenticated request: the ledger service in
/// production, the echo service when measuring the transport alone.
public protocol RequestPerformer: Sendable {
    /// Answers one request from the client at `origin` (its address: password work is shared
    /// fairly between addresses). Never throws: every failure becomes a coded error for the peer.
    func perform(_ request: ServerRequest, context: RequestContext, origin: String) async -> RequestResult
}

extension LedgerService: RequestPerformer {}
