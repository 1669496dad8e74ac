public import Crypto
import Foundation
public import NIOCore

/// Seals and opens the frames of one connection, in one role.
///
/// It owns the keys of the current phase, the per-direction sequence numbers and the replay
/// window, so both the client and the server state machines authenticate frames the same way.
public struct FrameChannel: Sendable {
    public let connectionID: ConnectionID
    /// The direction of the frames this side sends.
    public let sendDirection: Direction
    public let replayWindowMs: Int64
    public private(set) var keys: TrafficKeys
    public private(set) var nextSendSequence: UInt64 = 0
    public private(set) var nextReceiveSequence: UInt64 = 0

    public init(connectionID: ConnectionID, sendDirection: Direction, keys: TrafficKeys, replayWindowMs: Int64) {
        precondition(replayWindowMs > 0)
        self.connectionID = connectionID
        self.sendDirection = sendDirection
        self.keys = keys
        self.replayWindowMs = replayWindowMs
    }

    /// Switches to the session keys after login. Sequence numbers continue.
    public mutating func rekey(_ keys: TrafficKeys) {
        self.keys = keys
    }

    /// Builds the next outgoing frame. A body that does not fit a frame of `maximumFrameBytes`
    /// (or a field) is refused, and the sequence number is not used up.
    public mutating func seal(
        _ type: MessageType, nowMs: Int64, nonce: Nonce = .random(), maximumFrameBytes: Int = FrameFormat.defaultMaximumFrameBytes,
        body: (inout FieldWriter) -> Void
    ) throws(ProtocolError) -> ByteBuffer {
        let header = FrameHeader(type: type.rawValue, direction: self.sendDirection, sequence: self.nextSendSequence, timestampMs: nowMs, nonce: nonce)
        let frame = try FrameSealer.seal(
            header: header, key: self.keys.key(for: self.sendDirection), connectionID: self.connectionID, maximumFrameBytes: maximumFrameBytes, body: body)
        self.nextSendSequence += 1
        return frame
    }

    /// Authenticates an incoming frame: version, MAC (constant time), direction, sequence and
    /// timestamp, in that order. Only a frame that passes all of them advances the sequence.
    public mutating func open(_ bytes: ByteBuffer, nowMs: Int64) throws(ProtocolError) -> RawFrame {
        let frame = try RawFrame(bytes)
        guard frame.header.version == FrameFormat.version else {
            throw ProtocolError(.unsupportedVersion, "protocol version \(frame.header.version) is not supported; this peer speaks \(FrameFormat.version)")
        }
        let receiveDirection = self.sendDirection.reversed
        guard FrameSealer.isAuthentic(frame, key: self.keys.key(for: receiveDirection), connectionID: self.connectionID) else {
            throw ProtocolError(.authenticationFailed, "frame authentication failed")
        }
        guard frame.header.direction == receiveDirection.rawValue, frame.header.flags == 0 else {
            throw ProtocolError(.authenticationFailed, "frame authentication failed")
        }
        guard frame.header.sequence == self.nextReceiveSequence else {
            let kind: ErrorCode = frame.header.sequence < self.nextReceiveSequence ? .replayDetected : .outOfOrder
            throw ProtocolError(kind, "frame sequence \(frame.header.sequence) where \(self.nextReceiveSequence) was expected")
        }
        let skewMs = frame.header.timestampMs.subtractingReportingOverflow(nowMs)
        guard !skewMs.overflow, skewMs.partialValue.magnitude <= UInt64(self.replayWindowMs) else {
            throw ProtocolError(.staleTimestamp, "frame timestamp is outside the \(self.replayWindowMs / 1000) s window; check the clock")
        }
        self.nextReceiveSequence += 1
        return frame
    }
}

/// The frame MAC: HMAC-SHA256 over "integra/1 frame" ‖ connection id ‖ every frame byte before the MAC.
public enum FrameSealer {
    /// Writes a complete frame: length, header, body, MAC. A body that overflows a field, or a
    /// frame longer than `maximumFrameBytes` (length field included), is refused.
    public static func seal(
        header: FrameHeader, key: SymmetricKey, connectionID: ConnectionID, maximumFrameBytes: Int = FrameFormat.defaultMaximumFrameBytes,
        body: (inout FieldWriter) -> Void
    ) throws(ProtocolError) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: 256)
        buffer.writeInteger(UInt32(0))
        buffer.writeInteger(header.version)
        buffer.writeInteger(header.type)
        buffer.writeInteger(header.direction)
        buffer.writeInteger(header.flags)
        buffer.writeInteger(header.sequence)
        buffer.writeInteger(header.timestampMs)
        buffer.writeInteger(header.nonce.high)
        buffer.writeInteger(header.nonce.low)
        var writer = FieldWriter(buffer: buffer)
        body(&writer)
        buffer = writer.buffer
        let totalLength = buffer.readableBytes + FrameFormat.macBytes
        guard !writer.overflowed, totalLength <= maximumFrameBytes else {
            throw ProtocolError(.internalError, "the message does not fit in a frame of \(maximumFrameBytes) bytes")
        }
        buffer.setInteger(UInt32(totalLength - FrameFormat.lengthFieldBytes), at: buffer.readerIndex)
        let code = Self.authenticationCode(signedBytes: buffer, key: key, connectionID: connectionID)
        code.withUnsafeBytes { _ = buffer.writeBytes($0) }
        return buffer
    }

    /// The MAC of the bytes before the MAC field.
    public static func authenticationCode(signedBytes: ByteBuffer, key: SymmetricKey, connectionID: ConnectionID) -> HashedAuthenticationCode<SHA256> {
        var hmac = HMAC<SHA256>(key: key)
        hmac.update(data: FrameFormat.macContext)
        hmac.update(data: connectionID.bytes)
        signedBytes.withUnsafeReadableBytes { hmac.update(data: $0) }
        return hmac.finalize()
    }

    /// Whether the frame's MAC is right, compared in constant time.
    public static func isAuthentic(_ frame: RawFrame, key: SymmetricKey, connectionID: ConnectionID) -> Bool {
        let signed = frame.bytes.getSlice(at: frame.bytes.readerIndex, length: frame.bytes.readableBytes - FrameFormat.macBytes)!
        let expected = Self.authenticationCode(signedBytes: signed, key: key, connectionID: connectionID)
        return frame.mac.withUnsafeReadableBytes { expected == $0 }
    }
}
