/// A reusable page of sealed entries in compact form: what `LedgerStore.readSealedEntries` fills
/// and `LedgerVerifier` checks, without a `LedgerEntry`, `String` or array per row.
///
/// Numbers sit in one row array, strings in one byte arena, chain hashes and MACs in fixed
/// 32-byte slots; after the first pages nothing is allocated. A page is filled by one store call
/// at a time and read only after that call returned (the caller hands it over and takes it back,
/// hence `@unchecked Sendable`).
public final class SealedEntryPage: @unchecked Sendable {
    /// The most rows the page holds.
    public let capacity: Int
    /// Once the strings of the rows take this many bytes the page counts as full, so a ledger with
    /// huge (tampered) strings still reads in bounded memory.
    public let maximumStringBytes: Int
    /// The longest string a row may have: its encoding stores the length in 16 bits.
    public static let maximumFieldBytes = Int(UInt16.max)

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

    private(set) var rows: [Row] = []
    private(set) var strings: [UInt8] = []
    /// 32 bytes per row.
    private(set) var chainHashes: [UInt8]
    /// 32 bytes per row.
    private(set) var macs: [UInt8]
    /// Chain hashes that are not 32 bytes long (absent ones are empty), by row.
    private(set) var irregularChainHashes: [Int: [UInt8]] = [:]

    public init(capacity: Int, maximumStringBytes: Int = 16 << 20) {
        precondition(capacity >= 1 && maximumStringBytes >= 1)
        self.capacity = capacity
        self.maximumStringBytes = maximumStringBytes
        self.chainHashes = [UInt8](repeating: 0, count: capacity * LedgerSeal.hashByteCount)
        self.macs = [UInt8](repeating: 0, count: capacity * LedgerSeal.hashByteCount)
        self.rows.reserveCapacity(capacity)
    }

    /// Rows in the page.
    public var count: Int { self.rows.count }

    /// Whether a store must stop adding rows.
    public var isFull: Bool { self.rows.count >= self.capacity || self.strings.count >= self.maximumStringBytes }

    /// The position of the last row, if any.
    public var lastPosition: Int64? { self.rows.last?.position }

    /// Empties the page, keeping its storage.
    public func removeAll() {
        self.rows.removeAll(keepingCapacity: true)
        self.strings.removeAll(keepingCapacity: true)
        if !self.irregularChainHashes.isEmpty { self.irregularChainHashes.removeAll() }
    }

    /// Adds one row as a store reads it. Strings are UTF-8 bytes; `chainHash` and `mac` are nil
    /// when the column is NULL (or not a blob). A row the schema can't hold (an unknown kind, an
    /// amount that is not positive, a string longer than `maximumFieldBytes`) is refused with
    /// `storeUnavailable`, as the stores refuse such rows everywhere else.
    public func append(
        position: Int64, kind: Int64, transferID: UnsafeRawBufferPointer,
        fromUserID: Int64, from: UnsafeRawBufferPointer, toUserID: Int64, to: UnsafeRawBufferPointer,
        amountCents: Int64, fromBalanceAfterCents: Int64, toBalanceAfterCents: Int64, createdAtMs: Int64,
        chainHash: UnsafeRawBufferPointer?, mac: UnsafeRawBufferPointer?
    ) throws(LedgerError) {
        precondition(!self.isFull, "append to a full page")
        guard EntryKind(rawValue: kind) != nil else { throw Self.unexpected("kind", position) }
        guard amountCents > 0 else { throw Self.unexpected("amount_cents", position) }
        let transferIDRange = try self.store(transferID, column: "transfer_id", position: position)
        let fromRange = try self.store(from, column: "from_name", position: position)
        let toRange = try self.store(to, column: "to_name", position: position)
        let index = self.rows.count
        let slot = index * LedgerSeal.hashByteCount
        let chainHashIsRegular = chainHash?.count == LedgerSeal.hashByteCount
        if let chainHash, chainHashIsRegular {
            self.chainHashes.withUnsafeMutableBytes { $0.baseAddress!.advanced(by: slot).copyMemory(from: chainHash.baseAddress!, byteCount: chainHash.count) }
        } else {
            self.irregularChainHashes[index] = chainHash.map { Array($0) } ?? []
        }
        let macIsRegular = mac?.count == LedgerSeal.hashByteCount
        if let mac, macIsRegular {
            self.macs.withUnsafeMutableBytes { $0.baseAddress!.advanced(by: slot).copyMemory(from: mac.baseAddress!, byteCount: mac.count) }
        }
        self.rows.append(Row(
            position: position, kind: kind, fromUserID: fromUserID, toUserID: toUserID, amountCents: amountCents,
            fromBalanceAfterCents: fromBalanceAfterCents, toBalanceAfterCents: toBalanceAfterCents, createdAtMs: createdAtMs,
            transferID: transferIDRange, from: fromRange, to: toRange,
            chainHashIsRegular: chainHashIsRegular, macIsRegular: macIsRegular))
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
        let row = self.rows[index]
        let slot = index * LedgerSeal.hashByteCount
        return SealedEntry(
            entry: LedgerEntry(
                position: row.position, kind: EntryKind(rawValue: row.kind)!, transferID: TransferID(trusted: self.string(row.transferID)),
                fromUserID: row.fromUserID, from: Username(trustedCanonical: self.string(row.from)),
                toUserID: row.toUserID, to: Username(trustedCanonical: self.string(row.to)), amount: Amount(cents: row.amountCents),
                fromBalanceAfterCents: row.fromBalanceAfterCents, toBalanceAfterCents: row.toBalanceAfterCents, createdAtMs: row.createdAtMs),
            chainHash: row.chainHashIsRegular ? Array(self.chainHashes[slot..<slot + LedgerSeal.hashByteCount]) : self.irregularChainHashes[index],
            mac: row.macIsRegular ? Array(self.macs[slot..<slot + LedgerSeal.hashByteCount]) : nil)
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

    /// Calls `body` with pointers to the page's storage, valid only during the call.
    func withView<R>(_ body: (View) -> R) -> R {
        self.rows.withUnsafeBufferPointer { rows in
            self.strings.withUnsafeBufferPointer { strings in
                self.chainHashes.withUnsafeBytes { chainHashes in
                    self.macs.withUnsafeBytes { macs in
                        body(View(rows: rows, strings: strings, chainHashes: chainHashes, macs: macs))
                    }
                }
            }
        }
    }

    /// The stored chain hash of row `index` as the verifier reports it (absent = empty).
    func chainHash(at index: Int) -> [UInt8] {
        guard self.rows[index].chainHashIsRegular else { return self.irregularChainHashes[index] ?? [] }
        let slot = index * LedgerSeal.hashByteCount
        return Array(self.chainHashes[slot..<slot + LedgerSeal.hashByteCount])
    }

    private func string(_ range: Range<Int>) -> String {
        String(decoding: self.strings[range], as: UTF8.self)
    }

    private func store(_ bytes: UnsafeRawBufferPointer, column: String, position: Int64) throws(LedgerError) -> Range<Int> {
        guard bytes.count <= Self.maximumFieldBytes else { throw Self.unexpected(column, position) }
        let start = self.strings.count
        self.strings.append(contentsOf: bytes)
        return start..<self.strings.count
    }

    private static func unexpected(_ column: String, _ position: Int64) -> LedgerError {
        .storeUnavailable("unexpected value in column \(column) of entry \(position)")
    }

    private static func withOptionalBytes<R>(_ bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
        guard let bytes else { return body(nil) }
        return bytes.withUnsafeBytes { body($0) }
    }
}
