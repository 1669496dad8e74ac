public import Crypto
public import IntegraTransparency
import Synchronization

/// Tree heads whose signature this process has already checked, by the exact note bytes and
/// identity key. Every receipt of a group commit carries the same signed head, so a client with
/// many sessions (an application server, the load generator) checks each head's Ed25519
/// signature once instead of once per receipt. A head enters only after its check passed; a
/// lookup needs the same key and byte-for-byte the same note. At most `capacity` heads, the
/// oldest replaced first.
public final class VerifiedHeadCache: Sendable {
    /// The process's cache, used by `Receipt.provenHead`.
    public static let shared = VerifiedHeadCache(capacity: 256)

    private struct Key: Hashable {
        let identity: [UInt8]
        let note: [UInt8]
    }

    private struct State {
        var checkpoints: [Key: TreeCheckpoint] = [:]
        /// Insertion order, as a ring of `capacity` slots.
        var order: [Key?]
        var next = 0
    }

    public let capacity: Int
    private let state: Mutex<State>

    public init(capacity: Int) {
        precondition(capacity >= 1)
        self.capacity = capacity
        self.state = Mutex(State(order: Array(repeating: nil, count: capacity)))
    }

    /// The checkpoint of `note` signed by `identity`'s log key: from the cache, or opened (and
    /// its signature checked) by `open` and remembered if that succeeds.
    public func checkpoint(
        note: [UInt8], identity: Curve25519.Signing.PublicKey, open: () -> TreeCheckpoint?
    ) -> TreeCheckpoint? {
        let key = Key(identity: Array(identity.rawRepresentation), note: note)
        if let known = self.state.withLock({ $0.checkpoints[key] }) { return known }
        guard let opened = open() else { return nil }
        self.state.withLock { state in
            guard state.checkpoints[key] == nil else { return }
            if let evicted = state.order[state.next] { state.checkpoints[evicted] = nil }
            state.order[state.next] = key
            state.checkpoints[key] = opened
            state.next = (state.next + 1) % self.capacity
        }
        return opened
    }

    /// Heads held now.
    public var count: Int { self.state.withLock { $0.checkpoints.count } }
}
