public import IntegraLedger
import IntegraTransparency

/// One pass over the ledger's entries in position order, one page at a time (see
/// `LedgerStore.makeSealedEntryReader`). Used by one task at a time; what it keeps between pages
/// (such as the user names already read) lives no longer than the pass.
public protocol SealedEntryReader: Sendable {
    /// Empties `page` and fills it with the rows `sealedEntries` would return after
    /// `afterPosition`, until the page is full or the ledger ends. The caller must not touch the
    /// page until the call returns.
    func read(afterPosition: Int64, into page: SealedEntryPage) async throws(LedgerError)
}

/// A store that fills verify's pages straight from its rows, without a `SealedEntry` per row.
/// Both stores are; a test checks that they stay so.
public protocol SealedEntryPageSource: Sendable {
    /// A reader for one pass over the ledger.
    func makePageReader() async throws(LedgerError) -> any SealedEntryReader
}

extension LedgerStore {
    /// A reader for one pass over the ledger's entries, page by page: the fast path of `verify`.
    /// The store's own if it is a `SealedEntryPageSource`, else one that reads through
    /// `sealedEntries`.
    public func makeSealedEntryReader() async throws(LedgerError) -> any SealedEntryReader {
        if let source = self as? any SealedEntryPageSource { return try await source.makePageReader() }
        return GeneralSealedEntryReader(store: self)
    }
}

/// Reads pages through `LedgerStore.sealedEntries`.
struct GeneralSealedEntryReader: SealedEntryReader {
    let store: any LedgerStore

    func read(afterPosition: Int64, into page: SealedEntryPage) async throws(LedgerError) {
        page.removeAll()
        for sealed in try await self.store.sealedEntries(afterPosition: afterPosition, limit: page.capacity) {
            if page.isFull { break }
            try page.append(sealed)
        }
        for (level, indices) in page.treeNodeRanges(afterPosition: afterPosition) {
            var start = indices.lowerBound
            while start < indices.upperBound {
                let end = min(indices.upperBound, start + UInt64(MerkleTree.maximumProofNodeCount))
                let ids = (start..<end).compactMap { MerkleNodeID(level: level, index: $0) }
                for (id, hash) in try await self.store.treeNodes(ids) {
                    hash.withUnsafeBytes { page.treeNodes.record(level: id.level, index: id.index, hash: $0) }
                }
                start = end
            }
        }
    }
}
