public import NIOCore

/// Splits a byte stream into whole frames, each with its length field, without copying.
///
/// A pure value-type parser: it waits on partial input and rejects a length field that announces
/// a frame larger than `maximumFrameBytes` or smaller than the minimum frame before buffering it.
public struct FrameParser: Sendable {
    public let maximumFrameBytes: Int

    public init(maximumFrameBytes: Int = FrameFormat.defaultMaximumFrameBytes) {
        precondition(maximumFrameBytes >= FrameFormat.minimumFrameBytes && maximumFrameBytes <= FrameFormat.hardMaximumFrameBytes)
        self.maximumFrameBytes = maximumFrameBytes
    }

    /// Returns the next complete frame, or nil if more bytes are needed.
    public func nextFrame(from buffer: inout ByteBuffer) throws(ProtocolError) -> ByteBuffer? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
        let total = Int(length) + FrameFormat.lengthFieldBytes
        guard total <= self.maximumFrameBytes else {
            throw ProtocolError(.frameTooLarge, "frame of \(total) bytes exceeds the limit of \(self.maximumFrameBytes)")
        }
        guard total >= FrameFormat.minimumFrameBytes else {
            throw ProtocolError(.malformedFrame, "frame of \(total) bytes is shorter than the minimum of \(FrameFormat.minimumFrameBytes)")
        }
        return buffer.readSlice(length: total)
    }
}

/// The channel handler form of `FrameParser`.
public struct FrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = ByteBuffer

    private let parser: FrameParser

    public init(maximumFrameBytes: Int = FrameFormat.defaultMaximumFrameBytes) {
        self.parser = FrameParser(maximumFrameBytes: maximumFrameBytes)
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let frame = try self.parser.nextFrame(from: &buffer) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(frame))
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        // A partial frame at the end of the stream is dropped: it can never be authenticated.
        while try self.decode(context: context, buffer: &buffer) == .continue {}
        buffer.moveReaderIndex(to: buffer.writerIndex)
        return .needMoreData
    }
}
