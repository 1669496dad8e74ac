import Crypto
import Foundation
import IntegraClient
import IntegraFiles
import IntegraProtocol
@testable import IntegraServer
import IntegraTestSupport
import IntegraTransparency
import IntegraWitness
import Testing

/// A deployment that pushes its tree heads to an independent witness, and clients that require
/// the witness's cosignature on the head they are shown.
@Suite struct WitnessedHeadTests {
    @Test func aClientRequiringTheWitnessGetsACosignedHeadAndRefusesOneWithout() async throws {
        try await withTemporaryDirectory { parent in
            let witnessDirectory = try WitnessServiceTests.witnessDirectory(in: parent)
            let witnessKey = try WitnessKey.load(from: witnessDirectory.path).verifier
            let serverDirectory = parent.appendingPathComponent("server")
            try FileManager.default.createDirectory(at: serverDirectory, withIntermediateDirectories: true)
            // The deployment's keys exist before the witness is told which log it follows.
            let keys = try DeploymentKeys.loadOrCreate(in: serverDirectory.path).keys
            let logKey = TreeHeadKey.verifier(identity: keys.identityKey.publicKey)
            try await WitnessServiceTests.withWitness(witnessDirectory, logs: [logKey]) { witness in
                let endpoint = try WitnessEndpoint.parse("\(witness.url.absoluteString)=\(witnessKey.verifierKey)")
                try await withTestServer(database: nil, directory: serverDirectory, configure: {
                    $0.witnesses = [endpoint]
                    $0.witnessThreshold = 1
                    $0.witnessPushIntervalMs = 50
                    $0.checkpointIntervalMs = 3_600_000
                }) { server in
                    _ = try await FailClosedTests.makeLedger(server)
                    let entries = try await server.store.summary().entries
                    let deadline = ContinuousClock.now + .seconds(60)
                    while (server.deployment.monitor.witnessed.latest?.treeSize ?? 0) < UInt64(entries) && ContinuousClock.now < deadline {
                        try await Task.sleep(for: .milliseconds(50))
                    }
                    let policy = try server.clientConfiguration.witnessPolicy()
                    #expect(policy.threshold == 1 && policy.verifiers == [witnessKey], "client.json names the witness and the threshold")
                    let identity = server.deployment.keys.identityKey.publicKey
                    let shown = try await server.withClient { client in
                        try await client.login(username: "alice", password: TestServer.password)
                        return try await client.treeHead(extending: nil, identity: identity, witnesses: policy)
                    }
                    #expect(shown?.checkpoint.treeSize == UInt64(entries), "the head the witness cosigned")
                    // A client that requires a witness this deployment never asked is refused the head.
                    let stranger = try WitnessKey.create(in: parent.appendingPathComponent("stranger").path, keyName: "witness.example/stranger").verifier
                    let refused = await TransparencyLogTests.refusal {
                        _ = try await server.withClient { client in
                            try await client.login(username: "alice", password: TestServer.password)
                            return try await client.treeHead(extending: nil, identity: identity, witnesses: ([stranger], 1))
                        }
                    }
                    #expect(refused?.kind == .untrustedReply && refused?.message.contains("0 of the 1 witness cosignatures") == true, "\(String(describing: refused))")
                }
            }
        }
    }

    /// Waits until the witness has cosigned the server's whole ledger.
    static func waitUntilWitnessed(_ server: TestServer) async throws -> UInt64 {
        let entries = UInt64(try await server.store.summary().entries)
        let deadline = ContinuousClock.now + .seconds(60)
        while (server.deployment.monitor.witnessed.latest?.treeSize ?? 0) < entries && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        return server.deployment.monitor.witnessed.latest?.treeSize ?? 0
    }

    @Test func aWitnessRefusesAndRecordsAForkedHistoryOfTheSameDeployment() async throws {
        try await withTemporaryDirectory { parent in
            let witnessDirectory = try WitnessServiceTests.witnessDirectory(in: parent)
            let witnessKey = try WitnessKey.load(from: witnessDirectory.path).verifier
            let one = parent.appendingPathComponent("one")
            let other = parent.appendingPathComponent("other")
            try FileManager.default.createDirectory(at: one, withIntermediateDirectories: true)
            let keys = try DeploymentKeys.loadOrCreate(in: one.path).keys
            try await WitnessServiceTests.withWitness(witnessDirectory, logs: [TreeHeadKey.verifier(identity: keys.identityKey.publicKey)]) { witness in
                let endpoint = try WitnessEndpoint.parse("\(witness.url.absoluteString)=\(witnessKey.verifierKey)")
                let configure: (inout ServerConfiguration) -> Void = {
                    $0.witnesses = [endpoint]
                    $0.witnessThreshold = 1
                    $0.witnessPushIntervalMs = 50
                    $0.checkpointIntervalMs = 3_600_000
                }
                try await withTestServer(database: nil, directory: one, configure: configure) { server in
                    _ = try await FailClosedTests.makeLedger(server)
                    #expect(try await Self.waitUntilWitnessed(server) == 5)
                }
                // The same deployment copied; each copy then writes another sixth entry.
                try FileManager.default.copyItem(at: one, to: other)
                let cosigned = try await withTestServer(database: nil, directory: one, configure: configure) { server in
                    _ = try await FailClosedTests.transfer(server, from: "alice", to: "bob", amount: "5.00", id: "fork").get()
                    #expect(try await Self.waitUntilWitnessed(server) == 6)
                    return try #require(server.deployment.monitor.witnessed.latest)
                }
                try await withTestServer(database: nil, directory: other, configure: configure) { server in
                    _ = try await FailClosedTests.transfer(server, from: "alice", to: "carol", amount: "5.00", id: "fork").get()
                    let forked = try #require(try await server.store.latestTreeHead())
                    #expect(forked.treeSize == 6 && forked.rootHash != cosigned.rootHash)
                    // The witness refuses the other history's head and keeps the evidence.
                    let deadline = ContinuousClock.now + .seconds(60)
                    while (try WitnessStore(directory: witnessDirectory.path).alarms()).isEmpty && ContinuousClock.now < deadline {
                        try await Task.sleep(for: .milliseconds(50))
                    }
                    let alarm = try #require(try WitnessStore(directory: witnessDirectory.path).alarms().first)
                    #expect(alarm.cosignedTreeSize == 6 && alarm.offeredTreeSize == 6)
                    #expect(alarm.cosignedRootHash == Data(cosigned.rootHash).base64EncodedString() && alarm.offeredRootHash == Data(forked.rootHash).base64EncodedString(),
                            "both heads are named")
                    // And a client that requires the witness is not shown the forked head as witnessed.
                    let identity = server.deployment.keys.identityKey.publicKey
                    let refused = await TransparencyLogTests.refusal {
                        _ = try await server.withClient { client in
                            try await client.login(username: "alice", password: TestServer.password)
                            return try await client.treeHead(extending: nil, identity: identity, witnesses: ([witnessKey], 1))
                        }
                    }
                    #expect(refused?.kind == .untrustedReply, "\(String(describing: refused))")
                }
            }
        }
    }
}
