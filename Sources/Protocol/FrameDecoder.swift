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

/// The channel handler form of `FrameParser`. With `partialFrameTimeout`, a frame whose first
/// bytes arrived must be complete within that time, or the stream fails with `timeout`
/// (defence against peers that send a frame a byte at a time to hold the connection).
public struct FrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = ByteBuffer

    private let parser: FrameParser
    private let partialFrameTimeout: TimeAmount?
    private var deadline: Scheduled<Void>?

    public init(maximumFrameBytes: Int = FrameFormat.defaultMaximumFrameBytes, partialFrameTimeout: TimeAmount? = nil) {
        self.parser = FrameParser(maximumFrameBytes: maximumFrameBytes)
        self.partialFrameTimeout = partialFrameTimeout
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let frame = try self.parser.nextFrame(from: &buffer) else {
            self.armDeadline(context: context, partial: buffer.readableBytes > 0)
            return .needMoreData
        }
        self.deadline?.cancel()
        self.deadline = nil
        context.fireChannelRead(Self.wrapInboundOut(frame))
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        // A partial frame at the end of the stream is dropped: it can never be authenticated.
        while try self.decode(context: context, buffer: &buffer) == .continue {}
        buffer.moveReaderIndex(to: buffer.writerIndex)
        self.deadline?.cancel()
        self.deadline = nil
        return .needMoreData
    }

    public mutating func decoderRemoved(context: ChannelHandlerContext) {
        self.deadline?.cancel()
        self.deadline = nil
    }

    private mutating func armDeadline(context: ChannelHandlerContext, partial: Bool) {
        guard partial else {
            self.deadline?.cancel()
            self.deadline = nil
            return
        }
        guard let timeout = self.partialFrameTimeout, self.deadline == nil else { return }
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        self.deadline = context.eventLoop.scheduleTask(in: timeout) {
            // The connection loop answers with `timeout` and closes.
            bound.value.fireErrorCaught(ProtocolError(.timeout, "a frame was not completed in time"))
        }
    }
}
