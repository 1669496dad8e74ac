public import IntegraProtocol

/// What the connection loop asks to carry out an authenticated request: the ledger service in
/// production, the echo service when measuring the transport alone.
public protocol RequestPerformer: Sendable {
    /// Answers one request. Never throws: every failure becomes a coded error for the peer.
    func perform(_ request: ServerRequest, context: RequestContext) async -> RequestResult
}

extension LedgerService: RequestPerformer {}
