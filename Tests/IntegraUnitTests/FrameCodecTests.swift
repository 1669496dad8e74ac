@testable import IntegraProtocol
import NIOCore
import NIOEmbedded
import NIOTestUtils
import Testing

@Suite struct FrameCodecTests {
    @Test func decoderVerifierSplitsEveryFrameTypeHoweverBytesArrive() throws {
        var pairs: [(ByteBuffer, [ByteBuffer])] = []
        for message in ProtocolFixtures.clientMessages {
            let frame = ProtocolFixtures.frame(type: message.type.rawValue, body: message.encodeBody)
            pairs.append((frame, [frame]))
        }
        for message in ProtocolFixtures.serverMessages {
            let frame = ProtocolFixtures.frame(type: message.type.rawValue, direction: .serverToClient, body: message.encodeBody)
            pairs.append((frame, [frame]))
        }
        // Several frames back to back in one buffer come out one by one.
        var joined = ByteBuffer()
        var expected: [ByteBuffer] = []
        for (frame, _) in pairs.prefix(4) {
            joined.writeImmutableBuffer(frame)
            expected.append(frame)
        }
        pairs.append((joined, expected))
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: pairs) { FrameDecoder() }
    }

    @Test func clientMessagesRoundTrip() throws {
        for message in ProtocolFixtures.clientMessages {
            var writer = FieldWriter(buffer: ByteBuffer())
            message.encodeBody(into: &writer)
            #expect(try ClientMessage.decode(type: message.type.rawValue, body: writer.buffer) == message)
        }
    }

    @Test func serverMessagesRoundTrip() throws {
        for message in ProtocolFixtures.serverMessages {
            var writer = FieldWriter(buffer: ByteBuffer())
            message.encodeBody(into: &writer)
            #expect(try ServerMessage.decode(type: message.type.rawValue, body: writer.buffer) == message)
        }
    }

    @Test func sealedFrameSplitsBackIntoItsParts() throws {
        let frame = ProtocolFixtures.frame(type: MessageType.balance.rawValue, sequence: 5)
        let raw = try RawFrame(frame)
        #expect(raw.header.sequence == 5)
        #expect(raw.header.type == MessageType.balance.rawValue)
        #expect(raw.header.timestampMs == ProtocolFixtures.nowMs)
        #expect(raw.body.readableBytes == 0)
        #expect(raw.mac.readableBytes == FrameFormat.macBytes)
        #expect(frame.readableBytes == FrameFormat.minimumFrameBytes)
    }

    @Test func oversizedLengthFieldIsRejectedBeforeBuffering() {
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(10 * 1024 * 1024))
        buffer.writeBytes([1, 2, 3])
        let parser = FrameParser()
        #expect(throws: ProtocolError.self) { _ = try parser.nextFrame(from: &buffer) }
        do {
            var again = ByteBuffer(integer: UInt32(10 * 1024 * 1024))
            _ = try parser.nextFrame(from: &again)
        } catch {
            #expect(error.code == .frameTooLarge)
        }
    }

    @Test func lengthFieldBelowTheMinimumIsRejected() {
        var buffer = ByteBuffer(integer: UInt32(3))
        buffer.writeBytes([1, 2, 3])
        do {
            _ = try FrameParser().nextFrame(from: &buffer)
            Issue.record("a 7-byte frame was accepted")
        } catch {
            #expect(error.code == .malformedFrame)
        }
    }

    @Test func truncatedFrameWaitsForMoreBytes() throws {
        let frame = ProtocolFixtures.frame(type: MessageType.balance.rawValue)
        for cut in [0, 1, 3, 4, 39, frame.readableBytes - 1] {
            var partial = frame.getSlice(at: 0, length: cut)!
            #expect(try FrameParser().nextFrame(from: &partial) == nil)
            #expect(partial.readableBytes == cut, "the parser must not consume a partial frame")
        }
    }

    @Test func embeddedChannelRaisesFrameTooLarge() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(maximumFrameBytes: 1024)))
        var buffer = ByteBuffer(integer: UInt32(2048))
        buffer.writeRepeatingByte(0, count: 100)
        #expect(throws: ProtocolError(.frameTooLarge, "frame of 2052 bytes exceeds the limit of 1024")) {
            try channel.writeInbound(buffer)
        }
        _ = try? channel.finish()
    }

    @Test func rawFrameWithLyingLengthIsMalformed() {
        var frame = ProtocolFixtures.frame(type: MessageType.balance.rawValue)
        frame.setInteger(UInt32(frame.readableBytes), at: 0)
        #expect(throws: ProtocolError.self) { try RawFrame(frame) }
    }

    @Test func fieldReaderRejectsDuplicatedFields() {
        var writer = FieldWriter(buffer: ByteBuffer())
        writer.string(1, "a")
        writer.string(1, "b")
        #expect(throws: ProtocolError.self) { try FieldReader(writer.buffer) }
    }

    @Test func messageWithExtraFieldIsRejected() {
        var writer = FieldWriter(buffer: ByteBuffer())
        ClientMessage.balance.encodeBody(into: &writer)
        writer.string(9, "surprise")
        #expect(throws: ProtocolError(.malformedMessage, "field 9 is not expected here")) {
            try ClientMessage.decode(type: MessageType.balance.rawValue, body: writer.buffer)
        }
    }

    @Test func messageWithMissingFieldIsRejected() {
        var writer = FieldWriter(buffer: ByteBuffer())
        writer.string(1, "t-1")
        writer.string(2, "bob")
        #expect(throws: ProtocolError(.malformedMessage, "field 3 is missing")) {
            try ClientMessage.decode(type: MessageType.transfer.rawValue, body: writer.buffer)
        }
    }

    @Test func truncatedFieldIsRejected() {
        var body = ByteBuffer()
        body.writeInteger(UInt8(1))
        body.writeInteger(UInt16(10))
        body.writeBytes([1, 2])
        #expect(throws: ProtocolError(.malformedMessage, "a field is truncated")) { try FieldReader(body) }
    }

    @Test func invalidUTF8IsRejected() {
        var writer = FieldWriter(buffer: ByteBuffer())
        writer.bytes(1, [0xC3, 0x28])
        writer.string(2, "password password")
        #expect(throws: ProtocolError(.malformedMessage, "field 1 is not valid UTF-8")) {
            try ClientMessage.decode(type: MessageType.register.rawValue, body: writer.buffer)
        }
    }

    @Test func integerOfTheWrongWidthIsRejected() {
        var writer = FieldWriter(buffer: ByteBuffer())
        writer.integer(2, UInt32(50))
        #expect(throws: ProtocolError.self) {
            try ClientMessage.decode(type: MessageType.history.rawValue, body: writer.buffer)
        }
    }

    @Test func unknownAndWrongSideMessageTypesAreRejected() {
        #expect(throws: ProtocolError.self) { try ClientMessage.decode(type: 0x42, body: ByteBuffer()) }
        #expect(throws: ProtocolError.self) { try ClientMessage.decode(type: MessageType.loggedOut.rawValue, body: ByteBuffer()) }
        #expect(throws: ProtocolError.self) { try ServerMessage.decode(type: MessageType.logout.rawValue, body: ByteBuffer()) }
    }

    @Test func historyLimitOutsideOneToOneHundredIsRejected() {
        for limit: UInt16 in [0, 101, 65535] {
            var writer = FieldWriter(buffer: ByteBuffer())
            writer.integer(2, limit)
            #expect(throws: ProtocolError.self) { try ClientMessage.decode(type: MessageType.history.rawValue, body: writer.buffer) }
        }
    }

    @Test func randomBytesNeverCrashTheParsers() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let count = Int.random(in: 0..<200, using: &generator)
            let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let buffer = ByteBuffer(bytes: bytes)
            _ = try? RawFrame(buffer)
            for type in MessageType.allCases {
                _ = try? ClientMessage.decode(type: type.rawValue, body: buffer)
                _ = try? ServerMessage.decode(type: type.rawValue, body: buffer)
            }
            var stream = buffer
            _ = try? FrameParser().nextFrame(from: &stream)
        }
    }
}

/// The operating system's randomness as the connections draw it: every byte asked for is drawn,
/// whatever the count, and no two nonces repeat.
@Suite struct SystemRandomSourceTests {
    @Test func everyByteOfEveryLengthIsDrawnAndNoncesDoNotRepeat() {
        var random = SystemRandomSource()
        for count in 0...40 {
            #expect(random.bytes(count).count == count)
        }
        // A byte position left unfilled would stay 0 in all 64 draws; a drawn one is 0 in all of
        // them with probability 2^-512.
        for count in [1, 7, 9, 16, 17, 32, 33] {
            var seen = [UInt8](repeating: 0, count: count)
            for _ in 0..<64 {
                for (index, byte) in random.bytes(count).enumerated() { seen[index] |= byte }
            }
            #expect(!seen.contains(0), "count \(count): \(seen)")
        }
        let nonces = (0..<1_000).map { _ in random.nonce() }
        #expect(Set(nonces).count == nonces.count)
    }
}
