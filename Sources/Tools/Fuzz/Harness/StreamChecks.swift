import IntegraProtocol
import NIOCore

/// The frame parser on an arbitrary byte stream: however the bytes arrive, the same frames and
/// the same error come out, and a smaller limit only ever stops earlier.
enum StreamChecks {
    /// Streams up to this size are also fed one byte at a time.
    static let byteByByteLimitBytes = 4096
    /// A small frame limit, to reach `frameTooLarge` without large inputs.
    static let smallMaximumFrameBytes = 256

    /// What a parser made of a whole stream.
    struct Outcome: Equatable {
        var frames: [ByteBuffer] = []
        var error: ProtocolError?
        /// Bytes left waiting for the rest of a frame when the stream ended.
        var pendingBytes = 0
    }

    /// Checks the parser and returns the frames of the stream.
    static func run(_ input: [UInt8], summary: inout FuzzRunSummary) -> [ByteBuffer] {
        let parser = FrameParser()
        let whole = Self.parse(input, parser: parser, chunkSizes: [input.count])
        for frame in whole.frames {
            FuzzProperty.require(frame.readableBytes >= FrameFormat.minimumFrameBytes && frame.readableBytes <= parser.maximumFrameBytes, "the parser returned a frame of \(frame.readableBytes) bytes")
            let length = frame.getInteger(at: frame.readerIndex, as: UInt32.self)
            FuzzProperty.require(length.map { Int($0) + FrameFormat.lengthFieldBytes } == frame.readableBytes, "a frame's length field disagrees with its size")
        }
        let split = Self.parse(input, parser: parser, chunkSizes: Self.chunkSizes(for: input))
        FuzzProperty.require(split == whole, "splitting the stream changed what the parser returned")
        if input.count <= Self.byteByByteLimitBytes {
            let byteByByte = Self.parse(input, parser: parser, chunkSizes: Array(repeating: 1, count: input.count))
            FuzzProperty.require(byteByByte == whole, "feeding the stream byte by byte changed what the parser returned")
        }
        Self.checkSmallLimit(input, whole: whole)
        summary.frames += whole.frames.count
        return whole.frames
    }

    /// Feeds the stream in chunks, the way a channel handler accumulates reads.
    static func parse(_ input: [UInt8], parser: FrameParser, chunkSizes: [Int]) -> Outcome {
        var outcome = Outcome()
        var buffer = ByteBuffer()
        var offset = 0
        for size in chunkSizes where offset < input.count {
            let end = min(offset + size, input.count)
            buffer.writeBytes(input[offset..<end])
            offset = end
            // Each round takes a whole frame (at least the minimum frame size) or stops.
            for _ in 0...(buffer.readableBytes / FrameFormat.minimumFrameBytes) {
                let frame: ByteBuffer?
                do {
                    frame = try parser.nextFrame(from: &buffer)
                } catch {
                    outcome.error = error
                    return outcome
                }
                guard let frame else { break }
                outcome.frames.append(frame)
            }
        }
        FuzzProperty.require(offset == input.count, "the chunk sizes do not cover the stream")
        outcome.pendingBytes = buffer.readableBytes
        return outcome
    }

    /// Chunk sizes that cover the input, chosen by a generator seeded from the input itself so a
    /// run is reproducible from its input alone.
    static func chunkSizes(for input: [UInt8]) -> [Int] {
        var generator = SplitMix64(seed: FNV1a.hash(input))
        var sizes: [Int] = []
        var covered = 0
        while covered < input.count {
            let scale: UInt64 = [3, 80, 1500][Int(generator.next() % 3)]
            let size = Int(1 + generator.next() % scale)
            sizes.append(size)
            covered += size
        }
        return sizes
    }

    /// A parser with a smaller limit returns a prefix of the same frames and stops with
    /// `frameTooLarge` exactly at the first frame above its limit.
    static func checkSmallLimit(_ input: [UInt8], whole: Outcome) {
        let limit = Self.smallMaximumFrameBytes
        let small = Self.parse(input, parser: FrameParser(maximumFrameBytes: limit), chunkSizes: [input.count])
        FuzzProperty.require(small.frames.count <= whole.frames.count && Array(whole.frames.prefix(small.frames.count)) == small.frames, "a smaller frame limit changed the frames before it")
        if small.frames.count < whole.frames.count {
            FuzzProperty.require(small.error?.code == .frameTooLarge && whole.frames[small.frames.count].readableBytes > limit, "a smaller frame limit stopped at a frame within it")
        } else if whole.error != nil {
            FuzzProperty.require(small.error != nil, "a smaller frame limit accepted what the default limit rejects")
        }
    }
}

/// FNV-1a, 64 bits: seeds the chunk sizes from the input.
enum FNV1a {
    static func hash(_ bytes: [UInt8]) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return hash
    }
}
