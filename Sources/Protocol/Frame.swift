public import NIOCore

/// Sizes and constants of the Integra frame format (see docs/PROTOCOL.md).
///
/// ```
/// offset size field
///      0    4 length      UInt32 BE: bytes after this field (header rest + body + mac)
///      4    1 version     1
///      5    1 type        message type
///      6    1 direction   1 = client to server, 2 = server to client
///      7    1 flags       0
///      8    8 sequence    UInt64 BE, per direction, starting at 0
///     16    8 timestamp   Int64 BE, milliseconds since the Unix epoch
///     24   16 nonce       random
///     40    n body        fields
///   40+n   32 mac         HMAC-SHA256
/// ```
public enum FrameFormat {
    public static let version: UInt8 = 1
    public static let lengthFieldBytes = 4
    public static let headerBytes = 40
    public static let macBytes = 32
    public static let nonceBytes = 16
    /// The smallest possible frame: a header and a MAC with an empty body.
    public static let minimumFrameBytes = headerBytes + macBytes
    /// Default limit on a whole frame, length field included.
    public static let defaultMaximumFrameBytes = 64 * 1024
    /// No configuration can raise the limit above this.
    public static let hardMaximumFrameBytes = 1024 * 1024
    /// Domain separation prefix of every frame MAC.
    public static let macContext: [UInt8] = Array("integra/1 frame".utf8)
}

/// Which way a frame travels. Each direction has its own keys and sequence numbers.
public enum Direction: UInt8, Hashable, Sendable {
    case clientToServer = 1
    case serverToClient = 2

    public var reversed: Direction {
        switch self {
        case .clientToServer: .serverToClient
        case .serverToClient: .clientToServer
        }
    }
}

/// A 128-bit frame nonce from the system CSPRNG.
public struct Nonce: Hashable, Sendable, CustomStringConvertible {
    public let high: UInt64
    public let low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// A fresh nonce from the operating system's CSPRNG.
    public static func random() -> Nonce {
        var generator = SystemRandomNumberGenerator()
        return Nonce(high: generator.next(), low: generator.next())
    }

    /// The 16 bytes as sent on the wire.
    public var bytes: [UInt8] {
        var result = [UInt8]()
        result.reserveCapacity(16)
        for shift in stride(from: 56, through: 0, by: -8) { result.append(UInt8(truncatingIfNeeded: self.high >> UInt64(shift))) }
        for shift in stride(from: 56, through: 0, by: -8) { result.append(UInt8(truncatingIfNeeded: self.low >> UInt64(shift))) }
        return result
    }

    public var description: String { self.bytes.hexString }
}

/// A per-connection identifier chosen by the server and announced in `hello`. Every frame's MAC
/// covers it, so a frame can't be moved to another connection.
public struct ConnectionID: Hashable, Sendable {
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) {
        precondition(bytes.count == 16, "a connection id has 16 bytes")
        self.bytes = bytes
    }

    public static func random() -> ConnectionID {
        var generator = SystemRandomNumberGenerator()
        return ConnectionID(bytes: (0..<16).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
    }
}

/// The fixed-size part of a frame, as read from the wire (not yet authenticated).
public struct FrameHeader: Hashable, Sendable {
    public var version: UInt8
    public var type: UInt8
    public var direction: UInt8
    public var flags: UInt8
    public var sequence: UInt64
    public var timestampMs: Int64
    public var nonce: Nonce

    public init(version: UInt8 = FrameFormat.version, type: UInt8, direction: Direction, sequence: UInt64, timestampMs: Int64, nonce: Nonce) {
        self.version = version
        self.type = type
        self.direction = direction.rawValue
        self.flags = 0
        self.sequence = sequence
        self.timestampMs = timestampMs
        self.nonce = nonce
    }

    init(version: UInt8, type: UInt8, direction: UInt8, flags: UInt8, sequence: UInt64, timestampMs: Int64, nonce: Nonce) {
        self.version = version
        self.type = type
        self.direction = direction
        self.flags = flags
        self.sequence = sequence
        self.timestampMs = timestampMs
        self.nonce = nonce
    }
}

/// A whole frame split into its parts. `body` and `mac` are slices of the received bytes.
public struct RawFrame: Sendable {
    public let header: FrameHeader
    public let body: ByteBuffer
    public let mac: ByteBuffer
    /// The exact bytes received, length field included.
    public let bytes: ByteBuffer

    /// Splits a complete frame (as produced by `FrameDecoder`). Checks only sizes.
    public init(_ frame: ByteBuffer) throws(ProtocolError) {
        var reader = frame
        guard frame.readableBytes >= FrameFormat.minimumFrameBytes,
              let length = reader.readInteger(as: UInt32.self),
              Int(length) == frame.readableBytes - FrameFormat.lengthFieldBytes,
              let version = reader.readInteger(as: UInt8.self),
              let type = reader.readInteger(as: UInt8.self),
              let direction = reader.readInteger(as: UInt8.self),
              let flags = reader.readInteger(as: UInt8.self),
              let sequence = reader.readInteger(as: UInt64.self),
              let timestamp = reader.readInteger(as: Int64.self),
              let nonceHigh = reader.readInteger(as: UInt64.self),
              let nonceLow = reader.readInteger(as: UInt64.self),
              let body = reader.readSlice(length: reader.readableBytes - FrameFormat.macBytes),
              let mac = reader.readSlice(length: FrameFormat.macBytes)
        else {
            throw ProtocolError(.malformedFrame, "frame is truncated or its length field is wrong")
        }
        self.header = FrameHeader(
            version: version, type: type, direction: direction, flags: flags,
            sequence: sequence, timestampMs: timestamp, nonce: Nonce(high: nonceHigh, low: nonceLow))
        self.body = body
        self.mac = mac
        self.bytes = frame
    }
}

extension Sequence where Element == UInt8 {
    /// Lowercase hexadecimal, two digits per byte.
    public var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var result = [UInt8]()
        for byte in self {
            result.append(digits[Int(byte >> 4)])
            result.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: result, as: UTF8.self)
    }
}

extension Array where Element == UInt8 {
    /// Parses lowercase or uppercase hexadecimal; nil if the text is not hex.
    public init?(hexString: String) {
        let characters = Array(hexString.utf8)
        guard characters.count % 2 == 0 else { return nil }
        func value(_ character: UInt8) -> UInt8? {
            switch character {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): character - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var bytes = [UInt8]()
        bytes.reserveCapacity(characters.count / 2)
        var index = 0
        while index < characters.count {
            guard let high = value(characters[index]), let low = value(characters[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        self = bytes
    }
}
