import IntegraProtocol
import IntegraFuzzHarness
import IntegraLedger
import IntegraTransparency
import Testing

/// Checks the RFC 9162 tree, its stored-node model, the appender, the proof plans and the
/// verifiers against `docs/merkle-vectors.json` (an independent Python implementation).
@Suite struct MerkleTreeTests {
    static let vectors = MerkleVectors.shared.merkle
    /// The large trees up to 65,537 leaves (more take too long to hash in a debug build), built
    /// once with the appender.
    static let mediumTree = InMemoryMerkleTree(leafCount: 65_537)
    /// The tree every small vector comes from.
    static let smallTree = InMemoryMerkleTree(leafCount: Self.vectors.stored_nodes_tree_size)

    static func leafHash(_ index: UInt64) -> [UInt8] {
        MerkleTree.leafHash(Array("integra leaf \(index)".utf8))
    }

    @Test func leafHashesAndTheEmptyRootMatch() throws {
        #expect(MerkleTree.emptyRootHash == MerkleVectors.bytes(Self.vectors.empty_root))
        #expect(MerkleFrontier().rootHash == MerkleTree.emptyRootHash)
        #expect(try MerkleSubtree.wholeTree(treeSize: 0).hash(from: [:]) == MerkleTree.emptyRootHash)
        for leaf in Self.vectors.leaves {
            #expect(MerkleTree.leafHash(Array(leaf.data.utf8)) == MerkleVectors.bytes(leaf.leaf_hash))
            #expect(Self.leafHash(leaf.index) == MerkleVectors.bytes(leaf.leaf_hash))
        }
    }

    @Test func everyRootUpTo300MatchesFromTheFrontierAndFromStoredNodes() throws {
        var frontier = MerkleFrontier()
        for (offset, root) in Self.vectors.roots.enumerated() {
            let treeSize = UInt64(offset + 1)
            frontier = try frontier.appending(leafHashes: [Self.leafHash(treeSize - 1)]).frontier
            #expect(frontier.rootHash == MerkleVectors.bytes(root), "tree size \(treeSize)")
            let wholeTree = MerkleSubtree.wholeTree(treeSize: treeSize)
            #expect(try wholeTree.hash(from: Self.smallTree.nodes(wholeTree.nodeIDs)) == MerkleVectors.bytes(root))
            #expect(try MerkleFrontier(treeSize: treeSize, nodes: Self.smallTree.nodes(MerkleFrontier.nodeIDs(treeSize: treeSize))) == frontier)
        }
    }

    @Test func theAppenderStoresExactlyThePerfectSubtreesWhateverTheBatches() throws {
        let expected = try MerkleVectors.nodes(Self.vectors.stored_nodes)
        #expect(expected.count == Self.vectors.stored_nodes.count)
        let leafCount = Self.vectors.stored_nodes_tree_size
        let leaves = (0..<leafCount).map(Self.leafHash)
        // One batch (a from-scratch build), single leaves, and uneven batches all store the same nodes.
        for batchSizes in [[Int(leafCount)], Array(repeating: 1, count: Int(leafCount)), [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 32, 64, 0, 127]] {
            var frontier = MerkleFrontier()
            var stored: [MerkleNodeID: [UInt8]] = [:]
            var start = 0
            for batchSize in batchSizes where start + batchSize <= leaves.count {
                let result = try frontier.appending(leafHashes: Array(leaves[start..<start + batchSize]))
                for node in result.nodes {
                    #expect(stored.updateValue(node.hash, forKey: node.id) == nil, "node \(node.id) stored twice")
                }
                start += batchSize
                frontier = result.frontier
                #expect(result.rootHash == MerkleVectors.bytes(Self.vectors.roots[start - 1]))
            }
            #expect(start == leaves.count, "the batches add up to the tree")
            #expect(stored == expected)
        }
    }

    @Test func everyInclusionProofUpTo64LeavesMatchesAndVerifies() throws {
        #expect(Self.vectors.inclusion.count == (1...64).reduce(0, +))
        for vector in Self.vectors.inclusion {
            let plan = try MerkleProofPlan.inclusion(leafIndex: vector.leaf_index, treeSize: vector.tree_size)
            let proof = try Self.checkedProof(plan, treeSize: vector.tree_size, nodes: Self.smallTree.nodes(plan.nodeIDs), path: vector.path)
            #expect(MerkleProofVerifier.verifyInclusion(
                leafHash: Self.leafHash(vector.leaf_index), leafIndex: vector.leaf_index, treeSize: vector.tree_size,
                proof: proof, rootHash: MerkleVectors.bytes(Self.vectors.roots[Int(vector.tree_size) - 1])))
        }
    }

    /// A group's receipts get their paths in one call that shares subtree hashes between them:
    /// every path still equals the independent implementation's.
    @Test func inclusionPathsOfManyLeavesAtOnceMatchTheVectors() throws {
        let bySize = Dictionary(grouping: Self.vectors.inclusion, by: \.tree_size)
        for (treeSize, vectors) in bySize {
            let leafIndices = vectors.map(\.leaf_index)
            let paths = try MerkleProofPlan.inclusionPaths(leafIndices: leafIndices, treeSize: treeSize, nodes: Self.smallTree.allNodes)
            #expect(paths.count == vectors.count)
            for (vector, path) in zip(vectors, paths) {
                #expect(path == vector.path.map(MerkleVectors.bytes), "leaf \(vector.leaf_index) of \(treeSize)")
            }
        }
    }

    @Test func everyConsistencyProofUpTo64LeavesMatchesAndVerifies() throws {
        #expect(Self.vectors.consistency.count == (1...64).reduce(0, +))
        for vector in Self.vectors.consistency {
            let plan = try MerkleProofPlan.consistency(oldTreeSize: vector.old_size, newTreeSize: vector.new_size)
            let proof = try Self.checkedProof(plan, treeSize: vector.new_size, nodes: Self.smallTree.nodes(plan.nodeIDs), path: vector.path)
            #expect(MerkleProofVerifier.verifyConsistency(
                oldTreeSize: vector.old_size, oldRootHash: MerkleVectors.bytes(Self.vectors.roots[Int(vector.old_size) - 1]),
                newTreeSize: vector.new_size, newRootHash: MerkleVectors.bytes(Self.vectors.roots[Int(vector.new_size) - 1]), proof: proof))
        }
    }

    @Test func largeTreesMatchTheirRootsAndProofsFromExactlyTheNodesTheRecursionReads() throws {
        #expect(Self.vectors.large.count >= 20)
        for vector in Self.vectors.large {
            let nodes = try MerkleVectors.nodes(vector.nodes)
            let root = MerkleVectors.bytes(vector.root)
            let wholeTree = MerkleSubtree.wholeTree(treeSize: vector.tree_size)
            #expect(try wholeTree.hash(from: nodes) == root, "tree size \(vector.tree_size)")
            var read = Set(wholeTree.nodeIDs)
            for inclusion in vector.inclusion {
                let plan = try MerkleProofPlan.inclusion(leafIndex: inclusion.leaf_index, treeSize: vector.tree_size)
                let proof = try Self.checkedProof(plan, treeSize: vector.tree_size, nodes: nodes, path: inclusion.path)
                #expect(MerkleProofVerifier.verifyInclusion(
                    leafHash: MerkleVectors.bytes(inclusion.leaf_hash), leafIndex: inclusion.leaf_index, treeSize: vector.tree_size,
                    proof: proof, rootHash: root))
                read.formUnion(plan.nodeIDs)
            }
            for consistency in vector.consistency {
                let plan = try MerkleProofPlan.consistency(oldTreeSize: consistency.old_size, newTreeSize: vector.tree_size)
                let proof = try Self.checkedProof(plan, treeSize: vector.tree_size, nodes: nodes, path: consistency.path)
                #expect(MerkleProofVerifier.verifyConsistency(
                    oldTreeSize: consistency.old_size, oldRootHash: MerkleVectors.bytes(consistency.old_root),
                    newTreeSize: vector.tree_size, newRootHash: root, proof: proof))
                read.formUnion(plan.nodeIDs)
            }
            // The plans read exactly the stored nodes the RFC's recursion consults, no more.
            #expect(read == Set(nodes.keys), "tree size \(vector.tree_size)")
            // And the appender, at this scale, stored the same nodes.
            if vector.tree_size <= 65_537 {
                #expect(Self.mediumTree.nodes(Array(nodes.keys)) == nodes, "tree size \(vector.tree_size)")
            }
        }
    }

    /// The proof `plan` assembles from `nodes`, checked against the vector's path: a plan reads
    /// only complete perfect subtrees of the tree, few of them.
    static func checkedProof(
        _ plan: MerkleProofPlan, treeSize: UInt64, nodes: [MerkleNodeID: [UInt8]], path: [String],
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> [[UInt8]] {
        let proof = try plan.hashes(from: nodes)
        #expect(proof == MerkleVectors.hashes(path), "tree size \(treeSize)", sourceLocation: sourceLocation)
        #expect(plan.nodeIDs.allSatisfy { $0.firstLeafIndex + $0.leafCount <= treeSize }, sourceLocation: sourceLocation)
        #expect(Self.isLogarithmic(plan), sourceLocation: sourceLocation)
        return proof
    }

    /// At most one proof hash is folded from several stored nodes (the right edge), so a plan
    /// reads fewer than two nodes per level.
    static func isLogarithmic(_ plan: MerkleProofPlan) -> Bool {
        plan.subtrees.count <= 65 && plan.nodeIDs.count <= 2 * 64 && Set(plan.nodeIDs).count == plan.nodeIDs.count
    }

    @Test func aProofForLeafZeroOfAMillionLeavesHasAtMostTwentyHashes() throws {
        let treeSize: UInt64 = 1_000_000
        let plan = try MerkleProofPlan.inclusion(leafIndex: 0, treeSize: treeSize)
        #expect(plan.subtrees.count <= 20)
        // 19 left siblings up the first 2^19 leaves, and the right edge [2^19, 10^6) folded from
        // one stored node per bit set in its leaf count.
        #expect(plan.nodeIDs.count == 19 + (treeSize - (1 << 19)).nonzeroBitCount)
        // The hashes come from the independent implementation's stored nodes for this tree.
        let vector = try #require(Self.vectors.large.first { $0.tree_size == treeSize })
        let nodes = try MerkleVectors.nodes(vector.nodes)
        let proof = try plan.hashes(from: nodes)
        #expect(proof.count <= 20)
        let root = try MerkleSubtree.wholeTree(treeSize: treeSize).hash(from: nodes)
        #expect(root == MerkleVectors.bytes(vector.root))
        #expect(MerkleProofVerifier.verifyInclusion(leafHash: Self.leafHash(0), leafIndex: 0, treeSize: treeSize, proof: proof, rootHash: root))
    }

    @Test func everyTamperedInclusionProofFails() {
        #expect(Self.vectors.negative_inclusion.count >= 15)
        for vector in Self.vectors.negative_inclusion {
            #expect(!MerkleProofVerifier.verifyInclusion(
                leafHash: MerkleVectors.bytes(vector.leaf_hash), leafIndex: vector.leaf_index, treeSize: vector.tree_size,
                proof: MerkleVectors.hashes(vector.path), rootHash: MerkleVectors.bytes(vector.root)), "\(vector.why)")
        }
    }

    @Test func everyTamperedConsistencyProofFails() {
        #expect(Self.vectors.negative_consistency.count >= 30)
        for vector in Self.vectors.negative_consistency {
            #expect(!MerkleProofVerifier.verifyConsistency(
                oldTreeSize: vector.old_size, oldRootHash: MerkleVectors.bytes(vector.old_root),
                newTreeSize: vector.new_size, newRootHash: MerkleVectors.bytes(vector.new_root),
                proof: MerkleVectors.hashes(vector.path)), "\(vector.why)")
        }
    }

    @Test func verificationNeverTrapsOnHostileInputs() {
        var random = SplitMix64(seed: 9162)
        let extremes: [UInt64] = [0, 1, 2, 3, 63, 64, 65, 1 << 32, 1 << 63, (1 << 63) + 1, UInt64.max - 1, UInt64.max]
        func size() -> UInt64 {
            random.next() % 2 == 0 ? extremes[Int(random.next() % UInt64(extremes.count))] : random.next() >> (random.next() % 64)
        }
        func hash() -> [UInt8] {
            let byteCount = random.next() % 8 == 0 ? Int(random.next() % 40) : 32
            let words = (0..<5).map { _ in random.next() }
            return Array(words.withUnsafeBytes { $0.prefix(byteCount) })
        }
        for _ in 0..<1_000 {
            let path = (0..<Int(random.next() % 70)).map { _ in hash() }
            let first = size()
            let second = size()
            #expect(!MerkleProofVerifier.verifyInclusion(leafHash: hash(), leafIndex: first, treeSize: second, proof: path, rootHash: hash()))
            #expect(!MerkleProofVerifier.verifyConsistency(oldTreeSize: first, oldRootHash: hash(), newTreeSize: second, newRootHash: hash(), proof: path))
            // Plans take any sizes: refused ones throw, the others stay within 64 levels.
            if let plan = try? MerkleProofPlan.inclusion(leafIndex: first, treeSize: second) {
                #expect(Self.isLogarithmic(plan))
            }
            if let plan = try? MerkleProofPlan.consistency(oldTreeSize: first, newTreeSize: second) {
                #expect(Self.isLogarithmic(plan))
            }
        }
    }

    @Test func plansRefuseSizesThatNameNoSubtree() throws {
        #expect(throws: MerkleTreeError.leafIndexOutOfRange(leafIndex: 5, treeSize: 5)) { try MerkleProofPlan.inclusion(leafIndex: 5, treeSize: 5) }
        #expect(throws: MerkleTreeError.leafIndexOutOfRange(leafIndex: 0, treeSize: 0)) { try MerkleProofPlan.inclusion(leafIndex: 0, treeSize: 0) }
        #expect(throws: MerkleTreeError.treeSizesOutOfOrder(oldTreeSize: 6, newTreeSize: 5)) {
            try MerkleProofPlan.consistency(oldTreeSize: 6, newTreeSize: 5)
        }
        #expect(try MerkleProofPlan.consistency(oldTreeSize: 0, newTreeSize: 5).subtrees.isEmpty)
        #expect(try MerkleProofPlan.consistency(oldTreeSize: 5, newTreeSize: 5).subtrees.isEmpty)
        #expect(MerkleNodeID(level: 64, index: 0) == nil)
        #expect(MerkleNodeID(level: 63, index: 2) == nil)
        #expect(MerkleNodeID(level: 63, index: 1) != nil)
    }

    @Test func missingOrDamagedNodesAreReportedNotGuessed() throws {
        let plan = try MerkleProofPlan.inclusion(leafIndex: 5, treeSize: 13)
        var nodes = Self.smallTree.nodes(plan.nodeIDs)
        let missing = plan.nodeIDs[0]
        nodes[missing] = nil
        #expect(throws: MerkleTreeError.missingNode(missing)) { try plan.hashes(from: nodes) }
        nodes[missing] = [1, 2, 3]
        #expect(throws: MerkleTreeError.malformedHash(byteCount: 3)) { try plan.hashes(from: nodes) }
    }

    @Test func theFrontierRefusesWhatWouldCorruptTheTree() throws {
        let hash = Self.leafHash(0)
        #expect(throws: MerkleTreeError.frontierMismatch(treeSize: 3, hashCount: 1)) { try MerkleFrontier(treeSize: 3, hashes: [hash]) }
        #expect(throws: MerkleTreeError.malformedHash(byteCount: 31)) { try MerkleFrontier(treeSize: 1, hashes: [Array(hash.prefix(31))]) }
        #expect(throws: MerkleTreeError.malformedHash(byteCount: 0)) { try MerkleFrontier().appending(leafHashes: [[]]) }
        let tooMany = Array(repeating: hash, count: MerkleFrontier.maximumBatchLeafCount + 1)
        #expect(throws: MerkleTreeError.batchTooLarge(leafCount: tooMany.count)) { try MerkleFrontier().appending(leafHashes: tooMany) }
        // The last leaf a UInt64 can count still fits; one more does not.
        let almostFull = try MerkleFrontier(treeSize: UInt64.max - 1, hashes: Array(repeating: hash, count: 63))
        let full = try almostFull.appending(leafHashes: [hash])
        #expect(full.frontier.treeSize == UInt64.max)
        #expect(full.nodes == [MerkleNode(id: .leaf(UInt64.max - 1), hash: hash)])
        #expect(throws: MerkleTreeError.treeFull) { try full.frontier.appending(leafHashes: [hash]) }
        #expect(MerkleFrontier.nodeIDs(treeSize: UInt64.max).count == 64)
    }
}

/// A whole tree in memory, built with the appender: the stored nodes, level by level.
struct InMemoryMerkleTree: Sendable {
    private let levels: [[[UInt8]]]

    init(leafCount: UInt64) {
        var levels: [[[UInt8]]] = Array(repeating: [], count: 64)
        var frontier = MerkleFrontier()
        var next: UInt64 = 0
        while next < leafCount {
            let batchEnd = min(leafCount, next + UInt64(MerkleFrontier.maximumBatchLeafCount))
            let result = try! frontier.appending(leafHashes: (next..<batchEnd).map(MerkleTreeTests.leafHash))
            for node in result.nodes {
                precondition(UInt64(levels[Int(node.id.level)].count) == node.id.index, "the appender builds each level left to right")
                levels[Int(node.id.level)].append(node.hash)
            }
            frontier = result.frontier
            next = batchEnd
        }
        self.levels = levels
    }

    /// Every stored node (a smaller tree's perfect nodes are among them).
    var allNodes: [MerkleNodeID: [UInt8]] {
        var nodes: [MerkleNodeID: [UInt8]] = [:]
        for (level, hashes) in self.levels.enumerated() {
            for (index, hash) in hashes.enumerated() {
                nodes[MerkleNodeID(level: UInt8(level), index: UInt64(index))!] = hash
            }
        }
        return nodes
    }

    /// The hashes of exactly `nodeIDs`, as one store query would return them.
    func nodes(_ nodeIDs: [MerkleNodeID]) -> [MerkleNodeID: [UInt8]] {
        var nodes: [MerkleNodeID: [UInt8]] = [:]
        for nodeID in nodeIDs {
            nodes[nodeID] = self.levels[Int(nodeID.level)][Int(nodeID.index)]
        }
        return nodes
    }
}
