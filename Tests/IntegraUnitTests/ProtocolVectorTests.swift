import Crypto
import Foundation
@testable import IntegraProtocol
import IntegraTestSupport
import NIOCore
import IntegraTransparency
import Testing

/// Checks the Swift implementation against `docs/protocol-vectors.json`, which
/// `scripts/protocol-vectors.py` generates with an independent Python implementation.
@Suite struct ProtocolVectorTests {
    struct Vectors: Decodable {
        struct Frame: Decodable {
            let name: String
            let direction: String
            let key: String
            let type: UInt8
            let sequence: UInt64
            let timestamp_ms: Int64
            let nonce: String
            let body: String
            let mac: String
            let frame: String
        }

        let version: Int
        let keys: [String: String]
        let connection_id: String
        let frames: [Frame]
    }

    static let vectors: Vectors = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/protocol-vectors.json")
        return try! JSONDecoder().decode(Vectors.self, from: Data(contentsOf: url))
    }()

    static func bytes(_ hex: String) -> [UInt8] { [UInt8](hexString: hex)! }
    static func key(_ name: String) -> [UInt8] { bytes(vectors.keys[name]!) }
    static func frame(_ name: String) -> Vectors.Frame { vectors.frames.first { $0.name == name }! }

    @Test func preLoginKeysMatch() {
        let keys = KeySchedule.preLoginKeys(clientKey: SymmetricKey(data: Self.key("client_key")))
        #expect(keys.clientToServer.bytes == Self.key("prelogin_c2s"))
        #expect(keys.serverToClient.bytes == Self.key("prelogin_s2c"))
    }

    @Test func loginHandshakeDerivationsMatch() throws {
        let identity = try Curve25519.Signing.PrivateKey(rawRepresentation: Self.key("server_identity_seed"))
        #expect(Array(identity.publicKey.rawRepresentation) == Self.key("server_identity_public"))
        let clientEphemeral = try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: Self.key("client_ephemeral_private"))
        let serverEphemeral = try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: Self.key("server_ephemeral_private"))
        #expect(Array(clientEphemeral.publicKey.rawRepresentation) == Self.key("client_ephemeral_public"))
        #expect(Array(serverEphemeral.publicKey.rawRepresentation) == Self.key("server_ephemeral_public"))

        let shared = try serverEphemeral.sharedSecretFromKeyAgreement(with: clientEphemeral.publicKey)
        #expect(shared.withUnsafeBytes { Array($0) } == Self.key("shared_secret"))

        let transcript = KeySchedule.transcriptHash(
            helloFrame: ByteBuffer(bytes: Self.bytes(Self.frame("hello").frame)),
            loginFrame: ByteBuffer(bytes: Self.bytes(Self.frame("login").frame)),
            serverEphemeralPublicKey: Self.key("server_ephemeral_public"))
        #expect(transcript == Self.key("transcript_hash"))

        let payload = KeySchedule.signaturePayload(transcriptHash: transcript)
        #expect(identity.publicKey.isValidSignature(Self.key("login_signature"), for: payload))
        #expect(Array(try identity.signature(for: payload)) == Self.key("login_signature"), "Ed25519 here is deterministic (RFC 8032)")

        let session = KeySchedule.sessionKeys(sharedSecret: shared, transcriptHash: transcript)
        #expect(session.clientToServer.bytes == Self.key("session_c2s"))
        #expect(session.serverToClient.bytes == Self.key("session_s2c"))
    }

    @Test func everyFrameIsSealedByteForByteAndItsBodyRoundTrips() throws {
        let connectionID = ConnectionID(bytes: Self.bytes(Self.vectors.connection_id))
        #expect(Self.vectors.frames.count >= 16)
        for vector in Self.vectors.frames {
            let direction: Direction = vector.direction == "c2s" ? .clientToServer : .serverToClient
            let nonceBytes = Self.bytes(vector.nonce)
            var nonceBuffer = ByteBuffer(bytes: nonceBytes)
            let nonce = Nonce(high: nonceBuffer.readInteger()!, low: nonceBuffer.readInteger()!)
            let header = FrameHeader(type: vector.type, direction: direction, sequence: vector.sequence, timestampMs: vector.timestamp_ms, nonce: nonce)
            let body = Self.bytes(vector.body)
            let sealed = try FrameSealer.seal(header: header, key: SymmetricKey(data: Self.key(vector.key)), connectionID: connectionID) {
                $0.buffer.writeBytes(body)
            }
            #expect(Array(sealed.readableBytesView) == Self.bytes(vector.frame), "frame \(vector.name)")
            #expect(Array(sealed.readableBytesView.suffix(32)) == Self.bytes(vector.mac), "mac of \(vector.name)")

            var reencoded = FieldWriter(buffer: ByteBuffer())
            if direction == .clientToServer {
                try ClientMessage.decode(type: vector.type, body: ByteBuffer(bytes: body)).encodeBody(into: &reencoded)
            } else {
                try ServerMessage.decode(type: vector.type, body: ByteBuffer(bytes: body)).encodeBody(into: &reencoded)
            }
            #expect(Array(reencoded.buffer.readableBytesView) == body, "body of \(vector.name)")
        }
    }

    @Test func transferReceiptIsSignedByTheIdentityKey() throws {
        let identity = try Curve25519.Signing.PrivateKey(rawRepresentation: Self.key("server_identity_seed"))
        let vector = Self.frame("transferred")
        guard case .transferred(let confirmation) = try ServerMessage.decode(type: vector.type, body: ByteBuffer(bytes: Self.bytes(vector.body))) else {
            throw TestFailure("not a transfer confirmation")
        }
        #expect(Receipt.isValid(confirmation, identity: identity.publicKey))
        #expect(try Receipt.sign(confirmation, with: identity).signature == confirmation.signature)
        var altered = confirmation
        altered.amount = "100.51"
        #expect(!Receipt.isValid(altered, identity: identity.publicKey))
    }

    @Test func treeProofsOfTheVectorsVerifyWithTheIdentityKeyAlone() throws {
        let identity = try Curve25519.Signing.PrivateKey(rawRepresentation: Self.key("server_identity_seed")).publicKey
        let vector = Self.frame("tree_proofs")
        guard case .treeProofs(let proofs) = try ServerMessage.decode(type: vector.type, body: ByteBuffer(bytes: Self.bytes(vector.body))) else {
            throw TestFailure("not tree proofs")
        }
        let head = try #require(proofs.verifiedHead(identity: identity), "the head carries the identity key's signature under the derived origin")
        #expect(head.origin == TreeHeadKey.origin(identity: identity) && head.treeSize == 2)
        #expect(proofs.provesEntry(at: 2, in: head))
        #expect(CanonicalEntry(encoding: proofs.entry)?.position == 2, "the entry shown is the receipt's")
        // The tree of entry 1 alone has the first leaf as its root; the head extends it.
        let earlier = try TreeCheckpoint(origin: head.origin, treeSize: 1, rootHash: proofs.inclusionPath[0])
        #expect(proofs.proves(head, extends: earlier))
        var forked = proofs
        forked.consistencyPath[0][0] ^= 1
        #expect(!forked.proves(head, extends: earlier))
        #expect(proofs.verifiedHead(identity: Curve25519.Signing.PrivateKey().publicKey) == nil)
    }

    @Test func inclusionProofProvesTheReceipt() throws {
        let identity = try Curve25519.Signing.PrivateKey(rawRepresentation: Self.key("server_identity_seed")).publicKey
        let receiptVector = Self.frame("transferred")
        let proofVector = Self.frame("inclusion_proof")
        guard case .transferred(let receipt) = try ServerMessage.decode(type: receiptVector.type, body: ByteBuffer(bytes: Self.bytes(receiptVector.body))),
              case .inclusionProof(let proof) = try ServerMessage.decode(type: proofVector.type, body: ByteBuffer(bytes: Self.bytes(proofVector.body)))
        else { throw TestFailure("vectors of the wrong type") }
        #expect(proof.proves(receipt, identity: identity))
        var other = receipt
        other.chainHash = Array(repeating: 7, count: 32)
        #expect(!proof.proves(other, identity: identity))
    }

    @Test func theWholeConversationVerifiesInOrderOnBothSides() throws {
        let connectionID = ConnectionID(bytes: Self.bytes(Self.vectors.connection_id))
        let preLogin = KeySchedule.preLoginKeys(clientKey: SymmetricKey(data: Self.key("client_key")))
        let session = TrafficKeys(clientToServer: SymmetricKey(data: Self.key("session_c2s")), serverToClient: SymmetricKey(data: Self.key("session_s2c")))
        var server = FrameChannel(connectionID: connectionID, sendDirection: .serverToClient, keys: preLogin, replayWindowMs: 120_000)
        var client = FrameChannel(connectionID: connectionID, sendDirection: .clientToServer, keys: preLogin, replayWindowMs: 120_000)
        for vector in Self.vectors.frames {
            let bytes = ByteBuffer(bytes: Self.bytes(vector.frame))
            if vector.name == "logged_in" {
                server.rekey(session)
                client.rekey(session)
            }
            if vector.direction == "c2s" {
                _ = try server.open(bytes, nowMs: vector.timestamp_ms)
            } else {
                _ = try client.open(bytes, nowMs: vector.timestamp_ms)
            }
        }
    }
}
