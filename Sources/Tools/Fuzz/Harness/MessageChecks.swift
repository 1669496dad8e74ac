import IntegraProtocol
import NIOCore

/// A frame's body decoded as every message type, and through the strict field reader.
enum MessageChecks {
    static func run(frame: ByteBuffer, summary: inout FuzzRunSummary) {
        let raw: RawFrame
        do {
            raw = try RawFrame(frame)
        } catch {
            FuzzProperty.require(false, "the parser returned a frame that does not split: \(error)")
            return
        }
        FuzzProperty.require(raw.body.readableBytes + FrameFormat.minimumFrameBytes == frame.readableBytes && raw.mac.readableBytes == FrameFormat.macBytes, "a frame's parts do not add up to the frame")
        var types = MessageType.allCases.map(\.rawValue)
        if MessageType(rawValue: raw.header.type) == nil {
            types.append(raw.header.type)
        }
        for type in types {
            Self.checkClientMessage(type: type, body: raw.body, summary: &summary)
            Self.checkServerMessage(type: type, body: raw.body, summary: &summary)
        }
        FieldChecks.run(body: raw.body, summary: &summary)
    }

    static func checkClientMessage(type: UInt8, body: ByteBuffer, summary: inout FuzzRunSummary) {
        guard let message = Self.checkRoundTrip(ClientMessage.self, type: type, body: body) else { return }
        summary.decodedClientTypes.insert(message.type)
        DomainChecks.clientMessage(message, summary: &summary)
    }

    static func checkServerMessage(type: UInt8, body: ByteBuffer, summary: inout FuzzRunSummary) {
        guard let message = Self.checkRoundTrip(ServerMessage.self, type: type, body: body) else { return }
        summary.decodedServerTypes.insert(message.type)
        DomainChecks.serverMessage(message, summary: &summary)
    }

    /// Decodes the body as `type`: a failure has the right code; a success re-encodes to a body
    /// of the same size that decodes to the same message, and encodes the same way every time.
    static func checkRoundTrip<Message: WireMessage>(_: Message.Type, type: UInt8, body: ByteBuffer) -> Message? {
        let message: Message
        do {
            message = try Message.decode(type: type, body: body)
        } catch {
            Self.checkDecodingError(error, type: type, clientSide: Message.isClientSide)
            return nil
        }
        FuzzProperty.require(message.type.rawValue == type, "decoding type \(type) returned a \(message.type)")
        let encoded = Self.encode(message.encodeBody)
        FuzzProperty.require(encoded.readableBytes == body.readableBytes, "\(message.type) re-encodes to \(encoded.readableBytes) bytes from \(body.readableBytes)")
        let again = try? Message.decode(type: type, body: encoded)
        FuzzProperty.require(again == message, "\(message.type) does not survive encode then decode")
        FuzzProperty.require(Self.encode(message.encodeBody) == encoded, "\(message.type) encodes differently twice")
        return message
    }

    /// An unknown type is `unexpectedMessage`, a bad body of the right side's type is
    /// `malformedMessage`; the other side's type may be either (the body is split first).
    static func checkDecodingError(_ error: ProtocolError, type: UInt8, clientSide: Bool) {
        let allowed: [ErrorCode]
        switch MessageType(rawValue: type).map({ $0.isClientMessage == clientSide }) {
        case nil: allowed = [.unexpectedMessage]
        case true?: allowed = [.malformedMessage]
        case false?: allowed = [.malformedMessage, .unexpectedMessage]
        }
        FuzzProperty.require(allowed.contains(error.code), "decoding message type \(type) failed with \(error)")
    }

    static func encode(_ body: (inout FieldWriter) -> Void) -> ByteBuffer {
        var writer = FieldWriter(buffer: ByteBuffer())
        body(&writer)
        return writer.buffer
    }
}

/// What the round-trip check needs of `ClientMessage` and `ServerMessage`.
protocol WireMessage: Equatable {
    static var isClientSide: Bool { get }
    static func decode(type: UInt8, body: ByteBuffer) throws(ProtocolError) -> Self
    var type: MessageType { get }
    func encodeBody(into writer: inout FieldWriter)
}

extension ClientMessage: WireMessage {
    static var isClientSide: Bool { true }
}

extension ServerMessage: WireMessage {
    static var isClientSide: Bool { false }
}

extension MessageType {
    /// Client messages are below 0x80 (docs/PROTOCOL.md, section 4).
    var isClientMessage: Bool { self.rawValue < 0x80 }
}

/// The strict field reader on its own: what it accepts accounts for every byte of the body, reads
/// back through each accessor consistently and survives being written again.
enum FieldChecks {
    static func run(body: ByteBuffer, summary: inout FuzzRunSummary) {
        let reader: FieldReader
        do {
            reader = try FieldReader(body)
        } catch {
            FuzzProperty.require(error.code == .malformedMessage, "the field reader failed with \(error)")
            return
        }
        var fields: [(tag: UInt8, value: ByteBuffer)] = []
        var probe = reader
        for tag in UInt8.min...UInt8.max where probe.has(tag) {
            guard let value = try? probe.slice(tag, maximumBytes: Int(UInt16.max)) else {
                FuzzProperty.require(false, "field \(tag) is present but can't be read")
                return
            }
            fields.append((tag, value))
        }
        FuzzProperty.require((try? probe.finish()) != nil, "fields are left after reading every tag")
        let total = fields.reduce(0) { $0 + 3 + $1.value.readableBytes }
        FuzzProperty.require(total == body.readableBytes, "the field reader skipped \(body.readableBytes - total) bytes")
        var writer = FieldWriter(buffer: ByteBuffer())
        for field in fields {
            writer.bytes(field.tag, Array(field.value.readableBytesView))
        }
        var rewritten = try? FieldReader(writer.buffer)
        for field in fields {
            FuzzProperty.require(rewritten?.has(field.tag) == true, "field \(field.tag) is lost when written again")
            Self.checkAccessors(reader: reader, tag: field.tag, value: field.value, summary: &summary)
            _ = try? rewritten?.slice(field.tag, maximumBytes: Int(UInt16.max))
        }
        FuzzProperty.require((try? rewritten?.finish()) != nil, "writing the fields again added one")
    }

    /// Every typed accessor agrees with the raw bytes of the field.
    static func checkAccessors(reader: FieldReader, tag: UInt8, value: ByteBuffer, summary: inout FuzzRunSummary) {
        let bytes = Array(value.readableBytesView)
        Self.checkInteger(reader: reader, tag: tag, bytes: bytes, as: UInt8.self)
        Self.checkInteger(reader: reader, tag: tag, bytes: bytes, as: UInt16.self)
        Self.checkInteger(reader: reader, tag: tag, bytes: bytes, as: UInt64.self)
        Self.checkInteger(reader: reader, tag: tag, bytes: bytes, as: Int64.self)
        var exact = reader
        FuzzProperty.require((try? exact.bytes(tag, count: bytes.count)) == bytes, "field \(tag) reads back different bytes")
        var text = reader
        let string = try? text.string(tag, maximumBytes: bytes.count)
        let valid = String(validating: bytes, as: UTF8.self)
        FuzzProperty.require(string == valid, "field \(tag) is read as text unlike the UTF-8 rules")
        if let string {
            FuzzProperty.require(Array(string.utf8) == bytes, "field \(tag) changes when read as text")
            DomainChecks.text(string, summary: &summary)
        }
        var shorter = reader
        if !bytes.isEmpty {
            FuzzProperty.require((try? shorter.string(tag, maximumBytes: bytes.count - 1)) == nil, "field \(tag) passes a limit below its size")
        }
    }

    static func checkInteger<I: FixedWidthInteger>(reader: FieldReader, tag: UInt8, bytes: [UInt8], as type: I.Type) {
        var copy = reader
        let value = try? copy.integer(tag, as: I.self)
        guard bytes.count == MemoryLayout<I>.size else {
            FuzzProperty.require(value == nil, "field \(tag) of \(bytes.count) bytes read as a \(MemoryLayout<I>.size)-byte integer")
            return
        }
        let expected = bytes.reduce(I.zero) { ($0 << 8) | I(truncatingIfNeeded: $1) }
        FuzzProperty.require(value == expected, "field \(tag) reads as \(String(describing: value)), not \(expected)")
    }
}
