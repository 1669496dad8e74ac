import Foundation

/// The operator page's files (`Sources/Admin/Page`: the HTML, its script and its style), read
/// once at start from the resource bundle SwiftPM puts next to the executable
/// (`Integra_IntegraAdmin.resources`). Served from memory under fixed names only.
public struct AdminPage: Sendable {
    public struct File: Sendable {
        public let contentType: String
        public let bytes: [UInt8]
    }

    public static let bundleName = "Integra_IntegraAdmin.resources"
    /// Request path to file name and content type.
    static let files: [String: (name: String, contentType: String)] = [
        "/": ("index.html", "text/html; charset=utf-8"),
        "/app.js": ("app.js", "text/javascript; charset=utf-8"),
        "/style.css": ("style.css", "text/css; charset=utf-8"),
    ]

    public let files: [String: File]
    /// Where the files were read from; nil when they were not found.
    public let directory: String?

    /// Reads the page from `directory`, or from the resource bundle next to the executable.
    public init(directory: String? = nil) {
        let candidates = [directory, Self.bundledDirectory()].compactMap { $0 }
        for candidate in candidates {
            var files: [String: File] = [:]
            for (path, file) in Self.files {
                guard let data = FileManager.default.contents(atPath: "\(candidate)/\(file.name)"), data.count <= 1 << 20 else { break }
                files[path] = File(contentType: file.contentType, bytes: Array(data))
            }
            if files.count == Self.files.count {
                self.files = files
                self.directory = candidate
                return
            }
        }
        self.files = [:]
        self.directory = nil
    }

    /// `Integra_IntegraAdmin.resources/Page` beside the running executable (or test bundle).
    static func bundledDirectory() -> String? {
        guard let executable = Bundle.main.executableURL?.resolvingSymlinksInPath() else { return nil }
        var directory = executable.deletingLastPathComponent()
        for _ in 0..<3 {
            let candidate = directory.appendingPathComponent(Self.bundleName).appendingPathComponent("Page").path
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return nil
    }
}
