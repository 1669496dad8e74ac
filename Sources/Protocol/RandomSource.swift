public import Crypto

/// Where a connection's state machine takes its random values (connection ids, frame nonces,
/// ephemeral X25519 keys): the operating system's CSPRNG in production, a seeded generator in
/// tests, so every test of a machine is deterministic.
public protocol RandomSource: Sendable {
    /// `count` random bytes.
    mutating func bytes(_ count: Int) -> [UInt8]
}

extension RandomSource {
    /// A fresh frame nonce.
    public mutating func nonce() -> Nonce {
        let bytes = self.bytes(16)
        var high: UInt64 = 0
        var low: UInt64 = 0
        for byte in bytes[0..<8] { high = high << 8 | UInt64(byte) }
        for byte in bytes[8..<16] { low = low << 8 | UInt64(byte) }
        return Nonce(high: high, low: low)
    }

    /// A fresh connection id.
    public mutating func connectionID() -> ConnectionID {
        ConnectionID(bytes: self.bytes(16))
    }

    /// A fresh X25519 key pair.
    public mutating func agreementKey() -> Curve25519.KeyAgreement.PrivateKey {
        // Any 32 bytes are a valid X25519 private key (RFC 7748 clamps them).
        try! Curve25519.KeyAgreement.PrivateKey(rawRepresentation: self.bytes(32))
    }
}

/// The operating system's CSPRNG.
public struct SystemRandomSource: RandomSource {
    public init() {}

    /// Eight bytes per draw from the generator (one `getrandom` call each), not one draw per
    /// byte: a frame nonce costs two system calls instead of sixteen.
    public mutating func bytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        var result: [UInt8] = []
        result.reserveCapacity(count)
        while result.count < count {
            withUnsafeBytes(of: generator.next()) { result.append(contentsOf: $0.prefix(count - result.count)) }
        }
        return result
    }
}

/// A deterministic generator for tests, fuzzing and reproducible bench data: the same seed gives
/// the same bytes. Never for production keys or nonces.
public struct SeededRandomSource: RandomSource {
    private var generator: SplitMix64

    public init(seed: UInt64) {
        self.generator = SplitMix64(seed: seed)
    }

    public mutating func bytes(_ count: Int) -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(count)
        while result.count < count {
            let value = self.generator.next()
            for shift in stride(from: 0, to: 64, by: 8) where result.count < count {
                result.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
            }
        }
        return result
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): a small seedable generator (not for secrets).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator whose sequence is fixed by `seed`.
    public init(seed: UInt64) {
        self.state = seed
    }

    /// The next value of the sequence.
    public mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var value = self.state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}
