#if MariaDB
import IntegraLedger
import IntegraTransparency

/// The tree's rows on MariaDB: `tree_nodes` (level, idx, hash) and `tree_heads` (tree_size,
/// root_hash, created_at_ms, note).
enum MariaDBTreeRows {
    private static let rowsPerStatement = MariaDBEvidence.rowsPerStatement

    static func latestHead(_ connection: MariaDBConnection) throws -> SignedTreeHead? {
        let rows = try connection.query("SELECT tree_size, root_hash, created_at_ms, note FROM tree_heads ORDER BY tree_size DESC LIMIT 1")
        return try rows.rows.indices.first.map { try Self.head(rows, $0) }
    }

    static func heads(afterTreeSize: UInt64, limit: Int, _ connection: MariaDBConnection) throws -> [SignedTreeHead] {
        let rows = try connection.query(
            "SELECT tree_size, root_hash, created_at_ms, note FROM tree_heads WHERE tree_size > ? ORDER BY tree_size LIMIT ?",
            [.int(Int64(bitPattern: afterTreeSize)), .int(Int64(limit))])
        return try rows.rows.indices.map { try Self.head(rows, $0) }
    }

    private static func head(_ rows: MariaDBRows, _ row: Int) throws -> SignedTreeHead {
        SignedTreeHead(
            treeSize: UInt64(bitPattern: try rows.int64(row, 0)), rootHash: rows.rows[row][1] ?? [],
            createdAtMs: try rows.int64(row, 2), note: rows.rows[row][3] ?? [])
    }

    /// Stored nodes by id; missing ones are left out.
    static func nodes(_ ids: [MerkleNodeID], _ connection: MariaDBConnection) throws -> [MerkleNodeID: [UInt8]] {
        var nodes: [MerkleNodeID: [UInt8]] = [:]
        for chunk in ids.chunked(Self.rowsPerStatement) {
            let placeholders = Array(repeating: "(?, ?)", count: chunk.count).joined(separator: ", ")
            let rows = try connection.query(
                "SELECT level, idx, hash FROM tree_nodes WHERE (level, idx) IN (\(placeholders))",
                chunk.flatMap { [MariaDBValue.int(Int64($0.level)), .int(Int64(bitPattern: $0.index))] })
            for row in rows.rows.indices {
                guard let level = UInt8(exactly: try rows.int64(row, 0)), let id = MerkleNodeID(level: level, index: UInt64(bitPattern: try rows.int64(row, 1))),
                      let hash = rows.rows[row][2]
                else { continue }
                nodes[id] = hash
            }
        }
        return nodes
    }

    /// Writes nodes (a row planted ahead of the tree is overwritten: nodes never change).
    static func write(_ nodes: [MerkleNode], _ connection: MariaDBConnection) throws {
        for chunk in nodes.chunked(Self.rowsPerStatement) {
            let placeholders = Array(repeating: "(?, ?, ?)", count: chunk.count).joined(separator: ", ")
            try connection.query(
                "INSERT INTO tree_nodes (level, idx, hash) VALUES \(placeholders) ON DUPLICATE KEY UPDATE hash = VALUES(hash)",
                chunk.flatMap { [MariaDBValue.int(Int64($0.id.level)), .int(Int64(bitPattern: $0.id.index)), .bytes($0.hash)] })
        }
    }

    static func write(_ head: SignedTreeHead, _ connection: MariaDBConnection) throws {
        try connection.query(
            "INSERT INTO tree_heads (tree_size, root_hash, created_at_ms, note) VALUES (?, ?, ?, ?) ON DUPLICATE KEY UPDATE root_hash = VALUES(root_hash), created_at_ms = VALUES(created_at_ms), note = VALUES(note)",
            [.int(Int64(bitPattern: head.treeSize)), .bytes(head.rootHash), .int(head.createdAtMs), .bytes(head.note)])
    }

    /// The rows one backfill run reads and writes, on a connection inside a transaction that
    /// has locked the ledger head.
    static func backfillRows(_ connection: MariaDBConnection) -> TreeBackfill.Rows {
        TreeBackfill.Rows(
            headPosition: { try connection.query("SELECT position FROM ledger_head WHERE id = 1 FOR UPDATE").int64(0, 0) },
            latestHead: { try Self.latestHead(connection) },
            nodes: { try Self.nodes($0, connection) },
            entries: { after, limit in try MariaDBEvidence.entries(after: after, through: Int64.max, limit: limit, connection: connection) },
            chainHash: { position in
                guard position > 0 else { return LedgerSeal.genesisHash }
                return try connection.query("SELECT chain_hash FROM entries WHERE position = ?", [.int(position)]).rows.first?[0] ?? nil
            },
            writeNodes: { try Self.write($0, connection) },
            writeHead: { try Self.write($0, connection) })
    }
}
#endif
