import Crypto
import IntegraProtocol
import NIOCore

/// The fixed deployment of `docs/protocol-vectors.json` (its keys, connection id and clock), so
/// the vector frames in the seed corpus authenticate as they are.
enum FuzzDeployment {
    static let clientKey = SymmetricKey(data: Array(UInt8(0x00)...UInt8(0x1F)))
    static let connectionID = ConnectionID(bytes: Array(UInt8(0x80)...UInt8(0x8F)))
    static let identityKey = Self.signingKey(Array(UInt8(0x20)...UInt8(0x3F)))
    /// The client's ephemeral key of the vectors' login: a login carrying its public half lets
    /// the harness derive the session keys and keep sealing frames after the handshake.
    static let clientEphemeralKey = Self.agreementKey(Array(UInt8(0x40)...UInt8(0x5F)))
    /// A minute after the vectors' hello: every vector frame is inside the replay window.
    static let nowMs: Int64 = 1_767_225_660_000
    static let replayWindowMs: Int64 = 120_000

    static let serverConfiguration = ServerConnectionStateMachine.Configuration(
        clientKey: clientKey, identityKey: identityKey, replayWindowMs: replayWindowMs)
    static let clientConfiguration = ClientConnectionStateMachine.Configuration(
        clientKey: clientKey, serverIdentityKey: identityKey.publicKey, replayWindowMs: replayWindowMs)

    private static func signingKey(_ seed: [UInt8]) -> Curve25519.Signing.PrivateKey {
        guard let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: seed) else { preconditionFailure("a 32-byte seed is an Ed25519 key") }
        return key
    }

    private static func agreementKey(_ bytes: [UInt8]) -> Curve25519.KeyAgreement.PrivateKey {
        guard let key = try? Curve25519.KeyAgreement.PrivateKey(rawRepresentation: bytes) else { preconditionFailure("32 bytes are an X25519 key") }
        return key
    }

    /// The server's random values: the vectors' connection id first, so vector frames
    /// authenticate as they are, then a fixed sequence.
    static func serverRandom() -> ScriptedRandomSource {
        ScriptedRandomSource(script: Self.connectionID.bytes, then: SeededRandomSource(seed: 0x1A7E_6A))
    }

    /// The frame with its MAC replaced by the right one under `key`: every other byte, header
    /// included, stays as the input had it.
    static func reseal(_ frame: ByteBuffer, key: SymmetricKey, connectionID: ConnectionID) -> ByteBuffer {
        let signedBytes = frame.readableBytes - FrameFormat.macBytes
        guard let signed = frame.getSlice(at: frame.readerIndex, length: signedBytes) else { preconditionFailure("a frame holds its MAC") }
        let code = FrameSealer.authenticationCode(signedBytes: signed, key: key, connectionID: connectionID)
        var resealed = frame
        code.withUnsafeBytes { _ = resealed.setBytes($0, at: resealed.readerIndex + signedBytes) }
        return resealed
    }
}

/// Random values that start with given bytes, then come from a seeded generator: a fuzz run must
/// be the same every time.
struct ScriptedRandomSource: RandomSource {
    private var script: [UInt8]
    private var rest: SeededRandomSource

    init(script: [UInt8], then rest: SeededRandomSource) {
        self.script = script
        self.rest = rest
    }

    mutating func bytes(_ count: Int) -> [UInt8] {
        let scripted = Array(self.script.prefix(count))
        self.script.removeFirst(scripted.count)
        return scripted + self.rest.bytes(count - scripted.count)
    }
}
