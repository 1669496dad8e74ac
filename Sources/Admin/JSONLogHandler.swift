public import Foundation
public import Logging

/// `--log-format json`: one JSON object per line on standard error, with `time` (RFC 3339, UTC,
/// milliseconds), `level`, `label`, `message` and the log's `metadata` as strings. Integra logs no
/// secrets (no passwords, keys, tokens or store passwords), whatever the format.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let write: @Sendable (String) -> Void

    public init(label: String, write: @escaping @Sendable (String) -> Void = JSONLogHandler.standardError) {
        self.label = label
        self.write = write
    }

    /// Writes a line to standard error in one call.
    public static let standardError: @Sendable (String) -> Void = { line in
        FileHandle.standardError.write(Data(line.utf8))
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = self.metadata
        if let provided = self.metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let metadata = event.metadata { merged.merge(metadata) { _, new in new } }
        self.write(Self.line(time: Date(), level: event.level, label: self.label, message: "\(event.message)", metadata: merged))
    }

    /// One log line: a JSON object and a newline.
    public static func line(time: Date, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata) -> String {
        var object: [String: any Sendable] = [
            "time": Self.timestamp(time), "level": level.rawValue, "label": label, "message": message,
        ]
        if !metadata.isEmpty { object["metadata"] = metadata.mapValues(Self.plain) }
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]),
              let text = String(data: data, encoding: .utf8)
        else { return "{\"level\":\"error\",\"message\":\"unencodable log line\"}\n" }
        return text + "\n"
    }

    private static func plain(_ value: Logger.MetadataValue) -> any Sendable {
        switch value {
        case .string(let string): string
        case .stringConvertible(let convertible): convertible.description
        case .array(let values): values.map(Self.plain)
        case .dictionary(let values): values.mapValues(Self.plain)
        }
    }

    private static func timestamp(_ date: Date) -> String {
        let totalMilliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded())
        var seconds = time_t(totalMilliseconds / 1000)
        let milliseconds = Int(totalMilliseconds % 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
            Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), milliseconds)
    }
}
