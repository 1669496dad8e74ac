import Foundation
public import IntegraLedger
public import IntegraTransparency
public import IntegraVerifier
public import Logging
import NIOPosix
import Synchronization

/// The embedded store: one SQLite file in WAL mode with synchronous=FULL, through SQLite's C API
/// (`SQLiteConnection`, `SQLiteStatement`).
///
/// One connection writes: group commits and every other write, one at a time on the writer's
/// thread. Read-only connections serve reads, which WAL lets run beside the writer: plain reads
/// (`SQLiteReadConnection`), what the server is about to show or sign (`SQLiteEvidenceConnection`)
/// and verify's pass (`SQLiteSealedEntryReader`). Other processes (the admin commands) may write
/// to the same file while the server runs; SQLite's lock and a busy timeout serialise them.
public final class SQLiteLedgerStore: LedgerStore, SealedEntryPageSource {
    /// Used only on the writer pool's thread, one call at a time; nil when opened read-only.
    private let writer: SQLiteWriteConnection?
    private let reads: SQLitePooledConnection<SQLiteReadConnection>
    /// What the server is about to show or sign, with what its check needs.
    private let evidence: SQLiteEvidenceConnection
    /// Rows and head verified (or written) by this store, shared by the writer and the reads.
    private let verified: VerifiedRowCache
    /// The writer has a thread of its own, so its transaction never waits behind a reader-side
    /// statement that is itself waiting for the writer's lock.
    private let threadPools: [NIOThreadPool]
    private var writerPool: NIOThreadPool { self.threadPools[0] }
    /// The read connections' pool (the second of `threadPools`).
    private var readerPool: NIOThreadPool { self.threadPools[1] }
    private let seal: LedgerSeal
    private let commitInFlight = Mutex(false)
    private let path: String
    /// The connection of the background WAL checkpoints (`maintain`), and where they log; nil
    /// for a read-only store.
    private let walCheckpointing = Mutex<(checkpointer: WALCheckpointer, logger: Logger)?>(nil)
    /// How often the WAL is copied back into the database file, off the commit path.
    private static let checkpointIntervalMs = 250
    /// The writer checkpoints by itself when the WAL reaches this many pages (32 MiB). Under
    /// steady writes the background checkpoints have copied almost all of it by then, so the
    /// writer's own checkpoint is short; then the WAL starts over. (A background checkpoint alone
    /// cannot restart the WAL while commits keep coming.)
    private static let walAutocheckpointPages = 8192
    private static let busyTimeoutMs: Int32 = 10_000

    private init(writer: SQLiteWriteConnection?, threadPools: [NIOThreadPool], path: String, seal: LedgerSeal, verified: VerifiedRowCache) {
        self.seal = seal
        self.writer = writer
        self.threadPools = threadPools
        self.path = path
        self.verified = verified
        self.reads = SQLitePooledConnection(
            threadPool: threadPools[1], open: { () throws(LedgerError) in try SQLiteReadConnection(path: path, busyTimeoutMs: Self.busyTimeoutMs) },
            close: { $0.connection.close() })
        self.evidence = SQLiteEvidenceConnection(path: path, threadPool: threadPools[1], verified: verified)
    }

    /// How a store is opened.
    public enum Mode: Sendable {
        /// Create the file if needed, upgrade its schema, write.
        case readWrite
        /// Read an existing file as it is: no file, no schema upgrade and no write (`verify`).
        case readOnly
    }

    /// Opens (creating if needed) the database file and brings its schema up to date; read-only,
    /// opens an existing file at the latest schema version and never writes to it.
    /// A writable store signs a tree head per group with `signer` (required to write); on
    /// opening, it builds the tree over entries written before the tree existed, logging its
    /// progress.
    public static func open(
        path: String, seal: LedgerSeal, signer: TreeHeadSigner? = nil, mode: Mode = .readWrite, logger: Logger = Logger(label: "integra.sqlite")
    ) async throws(LedgerError) -> SQLiteLedgerStore {
        let writerPool = NIOThreadPool(numberOfThreads: 1)
        let readerPool = NIOThreadPool(numberOfThreads: 2)
        let threadPools = [writerPool, readerPool]
        for pool in threadPools { pool.start() }
        do {
            if case .readOnly = mode {
                try await readerPool.runIfActive { try Self.checkReadOnly(path: path) }
                return SQLiteLedgerStore(writer: nil, threadPools: threadPools, path: path, seal: seal, verified: VerifiedRowCache())
            }
            guard let signer else { preconditionFailure("a writable store needs the tree head signer") }
            let verified = VerifiedRowCache()
            let writer = try await writerPool.runIfActive {
                try Self.migrate(path: path, seal: seal)
                let writer = try SQLiteWriteConnection(path: path, seal: seal, signer: signer, verified: verified, busyTimeoutMs: Self.busyTimeoutMs)
                try writer.setWALAutocheckpoint(pages: Self.walAutocheckpointPages)
                try writer.buildTree(nowMs: Int64(Date().timeIntervalSince1970 * 1000)) { logger.log($0) }
                return writer
            }
            let checkpointer = try await readerPool.runIfActive { try WALCheckpointer(path: path) }
            let store = SQLiteLedgerStore(writer: writer, threadPools: threadPools, path: path, seal: seal, verified: verified)
            store.walCheckpointing.withLock { $0 = (checkpointer, logger) }
            return store
        } catch let error as LedgerError {
            for pool in threadPools { try? await pool.shutdownGracefully() }
            throw error
        } catch {
            for pool in threadPools { try? await pool.shutdownGracefully() }
            throw .storeUnavailable("cannot open the SQLite database at \(path): \(error)")
        }
    }

    /// Creates the file if needed, switches it to WAL and migrates it, on a connection of its own
    /// that is closed once the schema is current.
    private static func migrate(path: String, seal: LedgerSeal) throws(LedgerError) {
        let migrator = try SQLiteConnection(path: path, busyTimeoutMs: Self.busyTimeoutMs, creating: true)
        defer { migrator.close() }
        try migrator.execute("PRAGMA foreign_keys = ON")
        // Statement journals in memory, not in temporary files written on every group commit.
        // Durability is unchanged: it comes from the WAL, synced at every commit.
        try migrator.execute("PRAGMA temp_store = MEMORY")
        try migrator.execute("PRAGMA synchronous = FULL")
        try migrator.execute("PRAGMA journal_mode = WAL")
        try SQLiteMigrator.migrate(migrator, seal: seal)
    }

    /// Checks, through a read-only connection, that an existing file is at the latest schema
    /// version: nothing is created, upgraded or written.
    private static func checkReadOnly(path: String) throws(LedgerError) {
        guard FileManager.default.fileExists(atPath: path) else {
            throw .storeUnavailable("there is no SQLite database at \(path)")
        }
        let reader = try SQLiteReadConnection(path: path, busyTimeoutMs: Self.busyTimeoutMs)
        defer { reader.connection.close() }
        let version = try reader.schemaVersion()
        guard version == SQLiteSchema.latestVersion else {
            throw .storeUnavailable("the database at \(path) is at schema version \(version), not \(SQLiteSchema.latestVersion): run `integra-server migrate` first")
        }
    }

    /// The schema version the file is at.
    public func schemaVersion() async throws(LedgerError) -> Int64 {
        try await self.reads.run { (reader) throws(LedgerError) in try reader.schemaVersion() }
    }

    /// Copies the WAL back into the database file every `checkpointIntervalMs` on a connection of
    /// its own until the task is cancelled, so that no group commit waits for a long checkpoint
    /// (the writer's own automatic checkpoint would otherwise copy and sync up to 32 MiB inside a
    /// commit). Passive checkpoints never block the writer. The deployment runs it as a service.
    public func maintain() async {
        guard let (checkpointer, logger) = self.walCheckpointing.withLock({ $0 }) else { return }
        let pool = self.readerPool
        var failing = false
        while (try? await Task.sleep(for: .milliseconds(Self.checkpointIntervalMs))) != nil {
            do {
                try await pool.runIfActive { try checkpointer.run() }
                failing = false
            } catch {
                if !failing && !Task.isCancelled { logger.warning("WAL checkpoint failed", metadata: ["error": "\(error)"]) }
                failing = true
            }
        }
    }

    public func close() async {
        self.walCheckpointing.withLock { $0?.checkpointer.close() }
        await self.reads.close()
        await self.evidence.close()
        // After any write already queued on the writer's thread.
        if let writer = self.writer { try? await self.writerPool.runIfActive { writer.close() } }
        for pool in self.threadPools { try? await pool.shutdownGracefully() }
    }

    // MARK: Writes

    public func commit(_ requests: [WriteRequest], nowMs: Int64) async throws(LedgerError) -> [WriteOutcome] {
        self.commitInFlight.withLock { inFlight in
            precondition(!inFlight, "only one commit at a time per store")
            inFlight = true
        }
        defer { self.commitInFlight.withLock { $0 = false } }
        return try await self.write { (writer) throws(LedgerError) in try writer.commit(requests, nowMs: nowMs) }
    }

    public func recordAlarm(_ alarm: AlarmRecord) async throws(LedgerError) {
        let mac = self.seal.alarmMAC(alarm)
        try await self.write { (writer) throws(LedgerError) in try writer.recordAlarm(alarm, mac: mac) }
    }

    public func pruneNonces(olderThanMs: Int64) async throws(LedgerError) -> Int {
        try await self.write { (writer) throws(LedgerError) in try writer.pruneNonces(olderThanMs: olderThanMs) }
    }

    public func record(_ setting: Setting, _ value: Int64, onlyRaise: Bool) async throws(LedgerError) -> Int64 {
        try await self.write { (writer) throws(LedgerError) in try writer.record(setting, value, onlyRaise: onlyRaise) }
    }

    public func recordCheckpoint(_ checkpoint: LedgerCheckpoint) async throws(LedgerError) {
        try await self.write { (writer) throws(LedgerError) in try writer.recordCheckpoint(checkpoint) }
    }

    public func bindDeployment(fingerprint: [UInt8]) async throws(LedgerError) {
        let stored: [UInt8]
        if self.writer != nil {
            stored = try await self.write { (writer) throws(LedgerError) in try writer.bindDeployment(fingerprint: fingerprint) }
        } else {
            // A read-only store is never bound here: it belongs to no deployment yet.
            stored = try await self.reads.run { (reader) throws(LedgerError) in try reader.deploymentFingerprint() } ?? []
        }
        guard stored == fingerprint else { throw .deploymentMismatch }
    }

    /// Runs `body` with the writer on its thread, after the writes queued before it.
    private func write<T: Sendable>(_ body: @escaping @Sendable (SQLiteWriteConnection) throws(LedgerError) -> T) async throws(LedgerError) -> T {
        guard let writer = self.writer else { throw .storeUnavailable("the store is open read-only") }
        do {
            return try await self.writerPool.runIfActive { try body(writer) }
        } catch let error as LedgerError {
            throw error
        } catch {
            throw .storeUnavailable("database error: \(error)")
        }
    }

    // MARK: Reads

    public func user(named username: Username) async throws(LedgerError) -> UserRecord? {
        try await self.evidence.user(named: username, seal: self.seal)
    }

    public func account(ofUserID userID: Int64) async throws(LedgerError) -> AccountEvidence? {
        try await self.evidence.account(ofUserID: userID)
    }

    public func sealedHistory(ofUserID userID: Int64, beforePosition: Int64?, limit: Int) async throws(LedgerError) -> [EntryEvidence] {
        precondition(limit >= 1 && limit <= 1000)
        return try await self.evidence.history(ofUserID: userID, beforePosition: beforePosition, limit: limit)
    }

    public func entry(at position: Int64) async throws(LedgerError) -> EntryEvidence? {
        try await self.evidence.entry(at: position)
    }

    public func alarms(limit: Int) async throws(LedgerError) -> [SealedAlarm] {
        try await self.evidence.alarms(limit: limit)
    }

    public func forgetVerifiedRows() async {
        self.verified.forgetAll()
    }

    public func rememberVerified(latestPositions: [(userID: Int64, position: Int64)], firstMissingPosition: Int64?) async {
        self.verified.remember(latestPositions: latestPositions)
        if let firstMissingPosition { self.verified.remember(firstMissingPosition: firstMissingPosition) }
    }

    public func setting(_ setting: Setting) async throws(LedgerError) -> Int64? {
        try await self.reads.run { (reader) throws(LedgerError) in try reader.setting(setting) }
    }

    public func summary() async throws(LedgerError) -> LedgerSummary {
        try await self.reads.run { (reader) throws(LedgerError) in try reader.summary() }
    }

    public func sealedEntries(afterPosition: Int64, limit: Int) async throws(LedgerError) -> [SealedEntry] {
        try await self.reads.run { (reader) throws(LedgerError) in try reader.sealedEntries(afterPosition: afterPosition, limit: limit) }
    }

    /// Reads through a connection of the pass's own (see `SQLiteSealedEntryReader`), on the
    /// reader thread pool.
    public func makePageReader() async throws(LedgerError) -> any SealedEntryReader {
        SQLiteSealedEntryReader(path: self.path, threadPool: self.readerPool)
    }

    public func head() async throws(LedgerError) -> (position: Int64, chainHash: [UInt8]) {
        try await self.reads.run { (reader) throws(LedgerError) in try reader.head() }
    }

    public func checkpoints() async throws(LedgerError) -> [LedgerCheckpoint] {
        try await self.reads.run { (reader) throws(LedgerError) in try reader.checkpoints() }
    }

    public func sealedAccounts() async throws(LedgerError) -> [SealedAccount] {
        try await self.reads.run { (reader) throws(LedgerError) in try reader.sealedAccounts() }
    }

    public func sealedUsers() async throws(LedgerError) -> [SealedUser] {
        try await self.reads.run { (reader) throws(LedgerError) in try reader.sealedUsers() }
    }

    public func verifiedTree() async -> VerifiedTree? {
        self.verified.tree
    }

    public func latestTreeHead() async throws(LedgerError) -> SignedTreeHead? {
        try await self.reads.run { (reader) throws(LedgerError) in try reader.latestTreeHead() }
    }

    public func treeHeads(afterTreeSize: UInt64, limit: Int) async throws(LedgerError) -> [SignedTreeHead] {
        try await self.reads.run { (reader) throws(LedgerError) in try reader.treeHeads(afterTreeSize: afterTreeSize, limit: limit) }
    }

    public func treeNodes(_ ids: [MerkleNodeID]) async throws(LedgerError) -> [MerkleNodeID: [UInt8]] {
        precondition(ids.count <= MerkleTree.maximumProofNodeCount)
        return try await self.reads.run { (reader) throws(LedgerError) in try reader.treeNodes(ids) }
    }
}

extension SQLiteLedgerStore: TreeNodeRewriting {
    @discardableResult
    public func rewriteTreeNodes(progress: @escaping @Sendable (TreeBackfill.Run) -> Void) async throws(LedgerError) -> TreeBackfill.Rewrite {
        var rewrite = TreeBackfill.Rewrite()
        while true {
            let current = rewrite
            let (run, next) = try await self.write { (writer) throws(LedgerError) in
                var current = current
                let run = try writer.rewriteTreeNodes(&current, nowMs: Int64(Date().timeIntervalSince1970 * 1000))
                return (run, current)
            }
            rewrite = next
            progress(run)
            if run.done { return rewrite }
        }
    }
}

/// The connection of the store's background checkpoints. `close()` closes it when the store
/// closes, so that no connection of the store outlives `close()` (the last one to close deletes
/// the `-wal` file, and an operator may copy or remove the directory once the store is closed).
private final class WALCheckpointer: Sendable {
    private let connection: Mutex<SQLiteConnection?>

    init(path: String) throws(LedgerError) {
        // No busy wait: a checkpoint that cannot run now runs at the next interval.
        self.connection = Mutex(try SQLiteConnection(path: path, busyTimeoutMs: 0))
    }

    /// Does nothing once closed.
    func run() throws(LedgerError) {
        try self.connection.withLock { (connection) throws(LedgerError) in _ = try connection?.checkpointPassively() }
    }

    func close() {
        self.connection.withLock { connection in
            connection?.close()
            connection = nil
        }
    }
}
