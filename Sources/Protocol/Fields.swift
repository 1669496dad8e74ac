public import NIOCore

/// Reads a message body: a sequence of fields `tag (UInt8) | length (UInt16 BE) | value`.
///
/// Strict by design: a duplicated tag, a truncated field, a missing required field, an extra
/// (unknown) field, a wrong integer width or invalid UTF-8 are all `malformedMessage`.
public struct FieldReader {
    private var fields: [UInt8: ByteBuffer] = [:]

    /// Splits the body into fields.
    public init(_ body: ByteBuffer) throws(ProtocolError) {
        var reader = body
        while reader.readableBytes > 0 {
            guard let tag = reader.readInteger(as: UInt8.self),
                  let length = reader.readInteger(as: UInt16.self),
                  let value = reader.readSlice(length: Int(length))
            else {
                throw ProtocolError(.malformedMessage, "a field is truncated")
            }
            guard self.fields.updateValue(value, forKey: tag) == nil else {
                throw ProtocolError(.malformedMessage, "field \(tag) appears twice")
            }
        }
    }

    private mutating func take(_ tag: UInt8) throws(ProtocolError) -> ByteBuffer {
        guard let value = self.fields.removeValue(forKey: tag) else {
            throw ProtocolError(.malformedMessage, "field \(tag) is missing")
        }
        return value
    }

    /// Whether the body holds this field (still unread).
    public func has(_ tag: UInt8) -> Bool { self.fields[tag] != nil }

    /// A required UTF-8 string of at most `maximumBytes`.
    public mutating func string(_ tag: UInt8, maximumBytes: Int) throws(ProtocolError) -> String {
        let value = try self.take(tag)
        guard value.readableBytes <= maximumBytes else {
            throw ProtocolError(.malformedMessage, "field \(tag) is longer than \(maximumBytes) bytes")
        }
        guard let text = value.readableBytesView.withContiguousStorageIfAvailable({ String(validating: $0, as: UTF8.self) }) ?? String(validating: Array(value.readableBytesView), as: UTF8.self) else {
            throw ProtocolError(.malformedMessage, "field \(tag) is not valid UTF-8")
        }
        return text
    }

    /// A required field of exactly `count` bytes.
    public mutating func bytes(_ tag: UInt8, count: Int) throws(ProtocolError) -> [UInt8] {
        let value = try self.take(tag)
        guard value.readableBytes == count else {
            throw ProtocolError(.malformedMessage, "field \(tag) must have \(count) bytes")
        }
        return Array(value.readableBytesView)
    }

    /// A required field of at most `maximumBytes` bytes, returned as a slice.
    public mutating func slice(_ tag: UInt8, maximumBytes: Int) throws(ProtocolError) -> ByteBuffer {
        let value = try self.take(tag)
        guard value.readableBytes <= maximumBytes else {
            throw ProtocolError(.malformedMessage, "field \(tag) is longer than \(maximumBytes) bytes")
        }
        return value
    }

    /// A required big-endian integer; the field must have exactly the integer's width.
    public mutating func integer<I: FixedWidthInteger>(_ tag: UInt8, as: I.Type = I.self) throws(ProtocolError) -> I {
        var value = try self.take(tag)
        guard value.readableBytes == MemoryLayout<I>.size, let integer = value.readInteger(as: I.self) else {
            throw ProtocolError(.malformedMessage, "field \(tag) must be a \(MemoryLayout<I>.size)-byte integer")
        }
        return integer
    }

    /// An optional field of 1 to `maximumBytes` bytes.
    public mutating func optionalSlice(_ tag: UInt8, maximumBytes: Int) throws(ProtocolError) -> ByteBuffer? {
        guard self.has(tag) else { return nil }
        let value = try self.slice(tag, maximumBytes: maximumBytes)
        guard value.readableBytes >= 1 else { throw ProtocolError(.malformedMessage, "field \(tag) is empty") }
        return value
    }

    /// An optional big-endian integer.
    public mutating func optionalInteger<I: FixedWidthInteger>(_ tag: UInt8, as: I.Type = I.self) throws(ProtocolError) -> I? {
        guard self.has(tag) else { return nil }
        return try self.integer(tag, as: I.self)
    }

    /// Fails if any field was not read: extra fields are rejected, never ignored.
    public func finish() throws(ProtocolError) {
        if let tag = self.fields.keys.min() {
            throw ProtocolError(.malformedMessage, "field \(tag) is not expected here")
        }
    }
}

/// Writes message fields in the format `FieldReader` reads.
///
/// It never traps on what it is given: a value longer than a field can hold (65535 bytes) is not
/// written, and `overflowed` is set; `FrameSealer.seal` then refuses the whole frame.
public struct FieldWriter {
    public var buffer: ByteBuffer
    /// A value did not fit its field; the message must not be sent.
    public private(set) var overflowed = false

    public init(buffer: ByteBuffer) {
        self.buffer = buffer
    }

    public mutating func string(_ tag: UInt8, _ value: String) {
        self.bytes(tag, value.utf8)
    }

    public mutating func bytes(_ tag: UInt8, _ value: some Collection<UInt8>) {
        guard value.count <= Int(UInt16.max) else {
            self.overflowed = true
            return
        }
        self.buffer.writeInteger(tag)
        self.buffer.writeInteger(UInt16(value.count))
        self.buffer.writeBytes(value)
    }

    /// One field holding `parts` one after another (an audit path's hashes), written part by
    /// part: no joined copy, no byte-by-byte walk.
    public mutating func bytes(_ tag: UInt8, concatenating parts: [[UInt8]]) {
        let count = parts.reduce(0) { $0 + $1.count }
        guard count <= Int(UInt16.max) else {
            self.overflowed = true
            return
        }
        self.buffer.writeInteger(tag)
        self.buffer.writeInteger(UInt16(count))
        for part in parts { self.buffer.writeBytes(part) }
    }

    public mutating func integer<I: FixedWidthInteger>(_ tag: UInt8, _ value: I) {
        self.buffer.writeInteger(tag)
        self.buffer.writeInteger(UInt16(MemoryLayout<I>.size))
        self.buffer.writeInteger(value)
    }

    /// Writes a field whose value is produced by `body`; the length is filled in afterwards.
    public mutating func nested(_ tag: UInt8, _ body: (inout FieldWriter) -> Void) {
        self.buffer.writeInteger(tag)
        let lengthIndex = self.buffer.writerIndex
        self.buffer.writeInteger(UInt16(0))
        body(&self)
        let length = self.buffer.writerIndex - lengthIndex - 2
        guard length <= Int(UInt16.max) else {
            self.overflowed = true
            return
        }
        self.buffer.setInteger(UInt16(length), at: lengthIndex)
    }
}
