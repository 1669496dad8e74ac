public import IntegraLedger

/// A reusable page of sealed entries in compact form: what a `SealedEntryReader` fills and
/// `LedgerVerifier` checks, without a `LedgerEntry`, `String` or array per row.
///
/// Numbers sit in one row buffer, strings in one byte arena, chain hashes and MACs in fixed
/// 32-byte slots, all allocated with the page (the arena grows to the largest page seen); filling
/// it again allocates nothing. A page is filled by one reader call at a time and read only after
/// that call returned (the caller hands it over and takes it back, hence `@unchecked Sendable`).
public final class SealedEntryPage: @unchecked Sendable {
    /// The most rows the page holds.
    public let capacity: Int
    /// Once the strings of the rows take this many bytes the page counts as full, so a ledger with
    /// huge (tampered) strings still reads in bounded memory.
    public let maximumStringBytes: Int
    /// The longest string a row may have: its encoding stores the length in 16 bits.
    public static let maximumFieldBytes = LedgerSeal.maximumFieldBytes

    struct Row {
        var position: Int64
        var kind: Int64
        var fromUserID: Int64
        var toUserID: Int64
        var amountCents: Int64
        var fromBalanceAfterCents: Int64
        var toBalanceAfterCents: Int64
        var createdAtMs: Int64
        var transferID: Range<Int>
        var from: Range<Int>
        var to: Range<Int>
        /// The chain hash is 32 bytes (in its slot); otherwise its bytes, if any, are in `irregularChainHashes`.
        var chainHashIsRegular: Bool
        /// The MAC is 32 bytes (in its slot); a MAC of any other length is never valid.
        var macIsRegular: Bool
    }

    // The page is used by one thread at a time (see above), so its hot fields skip the runtime's
    // exclusivity bookkeeping.
    private let rows: UnsafeMutablePointer<Row>
    /// 32 bytes per row.
    private let chainHashes: UnsafeMutablePointer<UInt8>
    /// 32 bytes per row.
    private let macs: UnsafeMutablePointer<UInt8>
    @exclusivity(unchecked) private var strings: UnsafeMutableBufferPointer<UInt8>
    @exclusivity(unchecked) private var stringBytes = 0
    /// The stored tree nodes the page's leaves complete, if the reader read them.
    public let treeNodes = StoredTreeNodes()
    /// Rows in the page.
    @exclusivity(unchecked) public private(set) var count = 0
    /// Chain hashes that are not 32 bytes long (absent ones are empty), by row.
    @exclusivity(unchecked) private var irregularChainHashes: [Int: [UInt8]] = [:]

    public init(capacity: Int, maximumStringBytes: Int = 16 << 20) {
        precondition(capacity >= 1 && maximumStringBytes >= 1)
        self.capacity = capacity
        self.maximumStringBytes = maximumStringBytes
        self.rows = .allocate(capacity: capacity)
        self.chainHashes = .allocate(capacity: capacity * LedgerSeal.hashByteCount)
        self.macs = .allocate(capacity: capacity * LedgerSeal.hashByteCount)
        self.strings = .allocate(capacity: min(capacity * 64, maximumStringBytes))
    }

    deinit {
        self.rows.deallocate()
        self.chainHashes.deallocate()
        self.macs.deallocate()
        self.strings.deallocate()
    }

    /// Whether a store must stop adding rows.
    public var isFull: Bool { self.count >= self.capacity || self.stringBytes >= self.maximumStringBytes }

    /// Starts the page's tree nodes, once its rows are in: the index range to read at each
    /// level, for the leaves from `afterPosition` (where the page was read from) up to the first
    /// gap in the positions (the fold stops there).
    public func treeNodeRanges(afterPosition: Int64) -> [(level: UInt8, indices: Range<UInt64>)] {
        let leafCount = self.count == 0 ? 0 : min(Int64(self.count), max(0, self.rows[self.count - 1].position - afterPosition))
        return self.treeNodes.begin(afterPosition: max(0, afterPosition), leafCount: Int(leafCount))
    }

    /// The position of the last row, if any.
    public var lastPosition: Int64? { self.count > 0 ? self.rows[self.count - 1].position : nil }

    /// Empties the page, keeping its storage.
    public func removeAll() {
        self.treeNodes.removeAll()
        self.count = 0
        self.stringBytes = 0
        if !self.irregularChainHashes.isEmpty { self.irregularChainHashes.removeAll() }
    }

    /// Adds one row as a store reads it. Strings are UTF-8 bytes; `chainHash` and `mac` are nil
    /// when the column is NULL (or not a blob). A row the schema can't hold (an unknown kind, an
    /// amount that is not positive for a money movement, a string longer than `maximumFieldBytes`) is refused with
    /// `storeUnavailable`, as the stores refuse such rows everywhere else.
    public func append(
        position: Int64, kind: Int64, transferID: UnsafeRawBufferPointer,
        fromUserID: Int64, from: UnsafeRawBufferPointer, toUserID: Int64, to: UnsafeRawBufferPointer,
        amountCents: Int64, fromBalanceAfterCents: Int64, toBalanceAfterCents: Int64, createdAtMs: Int64,
        chainHash: UnsafeRawBufferPointer?, mac: UnsafeRawBufferPointer?
    ) throws(LedgerError) {
        precondition(!self.isFull, "append to a full page")
        guard let entryKind = EntryKind(rawValue: kind) else { throw Self.unexpected("kind", position) }
        guard entryKind.allows(amountCents: amountCents) else { throw Self.unexpected("amount_cents", position) }
        guard transferID.count <= Self.maximumFieldBytes else { throw Self.unexpected("transfer_id", position) }
        guard from.count <= Self.maximumFieldBytes else { throw Self.unexpected("from_name", position) }
        guard to.count <= Self.maximumFieldBytes else { throw Self.unexpected("to_name", position) }
        self.reserveStrings(transferID.count + from.count + to.count)
        let index = self.count
        let slot = index * LedgerSeal.hashByteCount
        let chainHashIsRegular = chainHash?.count == LedgerSeal.hashByteCount
        if let chainHash, chainHashIsRegular {
            UnsafeMutableRawPointer(self.chainHashes + slot).copyMemory(from: chainHash.baseAddress!, byteCount: LedgerSeal.hashByteCount)
        } else {
            self.irregularChainHashes[index] = chainHash.map { Array($0) } ?? []
        }
        let macIsRegular = mac?.count == LedgerSeal.hashByteCount
        if let mac, macIsRegular {
            UnsafeMutableRawPointer(self.macs + slot).copyMemory(from: mac.baseAddress!, byteCount: LedgerSeal.hashByteCount)
        }
        (self.rows + index).initialize(to: Row(
            position: position, kind: kind, fromUserID: fromUserID, toUserID: toUserID, amountCents: amountCents,
            fromBalanceAfterCents: fromBalanceAfterCents, toBalanceAfterCents: toBalanceAfterCents, createdAtMs: createdAtMs,
            transferID: self.store(transferID), from: self.store(from), to: self.store(to),
            chainHashIsRegular: chainHashIsRegular, macIsRegular: macIsRegular))
        self.count = index + 1
    }

    /// Adds an entry read the general way (`LedgerStore.sealedEntries`).
    public func append(_ sealed: SealedEntry) throws(LedgerError) {
        let entry = sealed.entry
        var transferID = entry.transferID.value
        var from = entry.from.canonical
        var to = entry.to.canonical
        let optionalChainHash = sealed.chainHash
        let optionalMAC = sealed.mac
        // Strings and arrays hand out their bytes only inside closures; the closures can't throw
        // typed errors through `withUTF8`, so the outcome is carried out as a Result.
        let outcome: Result<Void, LedgerError> = transferID.withUTF8 { transferID in
            from.withUTF8 { from in
                to.withUTF8 { to in
                    Self.withOptionalBytes(optionalChainHash) { chainHash in
                        Self.withOptionalBytes(optionalMAC) { mac in
                            Result { () throws(LedgerError) in
                                try self.append(
                                    position: entry.position, kind: entry.kind.rawValue, transferID: UnsafeRawBufferPointer(transferID),
                                    fromUserID: entry.fromUserID, from: UnsafeRawBufferPointer(from), toUserID: entry.toUserID, to: UnsafeRawBufferPointer(to),
                                    amountCents: entry.amount.cents, fromBalanceAfterCents: entry.fromBalanceAfterCents,
                                    toBalanceAfterCents: entry.toBalanceAfterCents, createdAtMs: entry.createdAtMs,
                                    chainHash: chainHash, mac: mac)
                            }
                        }
                    }
                }
            }
        }
        try outcome.get()
    }

    /// Row `index` as a `SealedEntry` (for tests and tools; the verifier reads the compact form).
    public func sealedEntry(at index: Int) -> SealedEntry {
        precondition(index >= 0 && index < self.count)
        return self.withView { view in
            let row = view.rows[index]
            func string(_ range: Range<Int>) -> String { String(decoding: view.string(range), as: UTF8.self) }
            return SealedEntry(
                entry: LedgerEntry(
                    position: row.position, kind: EntryKind(rawValue: row.kind)!, transferID: TransferID(trusted: string(row.transferID)),
                    fromUserID: row.fromUserID, from: Username(trustedCanonical: string(row.from)),
                    toUserID: row.toUserID, to: Username(trustedCanonical: string(row.to)), amount: Amount(cents: row.amountCents),
                    fromBalanceAfterCents: row.fromBalanceAfterCents, toBalanceAfterCents: row.toBalanceAfterCents, createdAtMs: row.createdAtMs),
                chainHash: row.chainHashIsRegular ? Array(view.chainHash(index)) : self.irregularChainHashes[index],
                mac: row.macIsRegular ? Array(view.mac(index)) : nil)
        }
    }

    /// The page's storage as pointers, for reading it from several threads at once.
    struct View: @unchecked Sendable {
        let rows: UnsafeBufferPointer<Row>
        let strings: UnsafeBufferPointer<UInt8>
        let chainHashes: UnsafeRawBufferPointer
        let macs: UnsafeRawBufferPointer

        /// Row `index`'s chain hash; only meaningful when the row's `chainHashIsRegular`.
        func chainHash(_ index: Int) -> UnsafeRawBufferPointer {
            UnsafeRawBufferPointer(rebasing: self.chainHashes[index * LedgerSeal.hashByteCount..<(index + 1) * LedgerSeal.hashByteCount])
        }

        /// Row `index`'s MAC; only meaningful when the row's `macIsRegular`.
        func mac(_ index: Int) -> UnsafeRawBufferPointer {
            UnsafeRawBufferPointer(rebasing: self.macs[index * LedgerSeal.hashByteCount..<(index + 1) * LedgerSeal.hashByteCount])
        }

        func string(_ range: Range<Int>) -> UnsafeBufferPointer<UInt8> {
            UnsafeBufferPointer(rebasing: self.strings[range])
        }
    }

    /// Calls `body` with pointers to the page's rows, valid only during the call.
    func withView<R>(_ body: (View) -> R) -> R {
        let slots = self.count * LedgerSeal.hashByteCount
        return body(View(
            rows: UnsafeBufferPointer(start: self.rows, count: self.count),
            strings: UnsafeBufferPointer(rebasing: self.strings[..<self.stringBytes]),
            chainHashes: UnsafeRawBufferPointer(start: self.chainHashes, count: slots),
            macs: UnsafeRawBufferPointer(start: self.macs, count: slots)))
    }

    /// The stored chain hash of row `index` as the verifier reports it (absent = empty).
    func chainHash(at index: Int) -> [UInt8] {
        precondition(index >= 0 && index < self.count)
        guard self.rows[index].chainHashIsRegular else { return self.irregularChainHashes[index] ?? [] }
        return Array(UnsafeBufferPointer(start: self.chainHashes + index * LedgerSeal.hashByteCount, count: LedgerSeal.hashByteCount))
    }

    /// Makes room for `byteCount` more string bytes (the arena only grows).
    private func reserveStrings(_ byteCount: Int) {
        let needed = self.stringBytes + byteCount
        guard needed > self.strings.count else { return }
        let grown = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(needed, 2 * self.strings.count))
        _ = grown.initialize(from: self.strings[..<self.stringBytes])
        self.strings.deallocate()
        self.strings = grown
    }

    /// Copies bytes into the arena (room reserved before).
    private func store(_ bytes: UnsafeRawBufferPointer) -> Range<Int> {
        let start = self.stringBytes
        if let source = bytes.baseAddress, bytes.count > 0 {
            UnsafeMutableRawPointer(self.strings.baseAddress! + start).copyMemory(from: source, byteCount: bytes.count)
        }
        self.stringBytes = start + bytes.count
        return start..<self.stringBytes
    }

    private static func unexpected(_ column: String, _ position: Int64) -> LedgerError {
        .storeUnavailable("unexpected value in column \(column) of entry \(position)")
    }

    private static func withOptionalBytes<R>(_ bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
        guard let bytes else { return body(nil) }
        return bytes.withUnsafeBytes { body($0) }
    }
}
