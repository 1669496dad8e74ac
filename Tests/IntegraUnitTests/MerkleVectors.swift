import Foundation
import IntegraLedger
import IntegraTransparency
import IntegraProtocol
import IntegraTestSupport

/// `docs/merkle-vectors.json`, which `scripts/merkle-vectors.py` generates with an independent
/// Python implementation of RFC 9162 trees and C2SP signed notes.
struct MerkleVectors: Decodable {
    struct Leaf: Decodable {
        let index: UInt64
        let data: String
        let leaf_hash: String
    }

    struct Inclusion: Decodable {
        let leaf_index: UInt64
        let tree_size: UInt64
        let path: [String]
    }

    struct Consistency: Decodable {
        let old_size: UInt64
        let new_size: UInt64
        let path: [String]
    }

    struct LargeTree: Decodable {
        struct Inclusion: Decodable {
            let leaf_index: UInt64
            let leaf_hash: String
            let path: [String]
        }

        struct Consistency: Decodable {
            let old_size: UInt64
            let old_root: String
            let path: [String]
        }

        let tree_size: UInt64
        let root: String
        let inclusion: [Inclusion]
        let consistency: [Consistency]
        /// `[level, index, hash]` for every stored node the Python recursion consulted for this
        /// tree's root and proofs.
        let nodes: [[StoredNodeField]]
    }

    struct NegativeInclusion: Decodable {
        let why: String
        let leaf_hash: String
        let leaf_index: UInt64
        let tree_size: UInt64
        let path: [String]
        let root: String
    }

    struct NegativeConsistency: Decodable {
        let why: String
        let old_size: UInt64
        let old_root: String
        let new_size: UInt64
        let new_root: String
        let path: [String]
    }

    struct Merkle: Decodable {
        let empty_root: String
        let leaves: [Leaf]
        let roots: [String]
        let stored_nodes_tree_size: UInt64
        /// `[level, index, hash]` for every perfect subtree of the tree of `stored_nodes_tree_size` leaves.
        let stored_nodes: [[StoredNodeField]]
        let inclusion: [Inclusion]
        let consistency: [Consistency]
        let large: [LargeTree]
        let negative_inclusion: [NegativeInclusion]
        let negative_consistency: [NegativeConsistency]
    }

    /// A field of a stored node row: a number or a hex hash.
    enum StoredNodeField: Decodable, CustomStringConvertible {
        case number(UInt64)
        case hash(String)

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let number = try? container.decode(UInt64.self) {
                self = .number(number)
            } else {
                self = .hash(try container.decode(String.self))
            }
        }

        var description: String {
            switch self {
            case .number(let number): "\(number)"
            case .hash(let hash): hash
            }
        }
    }

    struct Key: Decodable {
        let name: String
        let seed: String
        let public_key: String
        let key_id: String
        let verifier_key: String
    }

    struct Keys: Decodable {
        let log: Key
        let witnesses: [Key]
    }

    struct Checkpoint: Decodable {
        let tree_size: UInt64
        let root: String
        let extension_lines: [String]
        let text: String
        let signature_line: String
        let note: String
    }

    struct Cosignature: Decodable {
        let witness: Int
        let timestamp: UInt64
        let signed_message: String
        let signature_line: String
    }

    struct GoNote: Decodable {
        let seed: String
        let key_name: String
        let verifier_key: String
        let text: String
        let note: String
    }

    struct CosignedExample: Decodable {
        let note: String
        let witness: String
        let witness_key_id: String
        let timestamp: UInt64
        let tree_size: UInt64
    }

    struct Interoperability: Decodable {
        let go_note: GoNote
        let c2sp_cosigned_checkpoint: CosignedExample
    }

    struct VerificationCase: Decodable {
        let why: String
        let note: String
        let verifier_keys: [String]
        /// The key names whose signatures verify, or nil if the note must be refused.
        let verified: [String]?
    }

    struct MalformedNote: Decodable {
        let why: String
        let note_hex: String
    }

    struct MalformedVerifierKey: Decodable {
        let why: String
        let verifier_key: String
    }

    struct MalformedCheckpoint: Decodable {
        let why: String
        let text: String
    }

    struct Notes: Decodable {
        let keys: Keys
        let checkpoints: [Checkpoint]
        let cosignatures: [Cosignature]
        let cosigned_note: String
        let interoperability: Interoperability
        let verification_cases: [VerificationCase]
        let malformed_notes: [MalformedNote]
        let malformed_verifier_keys: [MalformedVerifierKey]
        let accepted_verifier_keys: [String]
        let malformed_checkpoints: [MalformedCheckpoint]
    }

    let version: Int
    let merkle: Merkle
    let notes: Notes

    static let shared: MerkleVectors = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/merkle-vectors.json")
        return try! JSONDecoder().decode(MerkleVectors.self, from: Data(contentsOf: url))
    }()

    static func bytes(_ hex: String) -> [UInt8] { [UInt8](hexString: hex)! }

    /// Stored node rows `[level, index, hash]` as a store would return them.
    static func nodes(_ rows: [[StoredNodeField]]) throws -> [MerkleNodeID: [UInt8]] {
        var nodes: [MerkleNodeID: [UInt8]] = [:]
        for row in rows {
            guard row.count == 3, case .number(let level) = row[0], case .number(let index) = row[1], case .hash(let hash) = row[2],
                  level <= UInt64(MerkleTree.maximumLevel), let nodeID = MerkleNodeID(level: UInt8(level), index: index),
                  nodes.updateValue(Self.bytes(hash), forKey: nodeID) == nil
            else { throw TestFailure("a malformed or repeated stored node row: \(row)") }
        }
        return nodes
    }
    static func hashes(_ hex: [String]) -> [[UInt8]] { hex.map(Self.bytes) }
}
