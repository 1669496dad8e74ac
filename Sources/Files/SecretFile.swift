public import Foundation
import IntegraProtocol

/// Files that hold secrets (keys, `client.json`, anchors): mode 0600 before any byte is written,
/// never written or read through a symbolic link, and replaced atomically (a crash leaves the
/// old file or the new one, never a mix or an empty file).
public enum SecretFile {
    /// Creates `path`; fails if anything (a file or a symbolic link) is already there.
    public static func create(_ data: Data, at path: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw ConfigurationError("cannot create \(path): \(Self.lastError())") }
        do {
            try Self.write(data, to: descriptor, path: path)
            close(descriptor)
        } catch {
            close(descriptor)
            unlink(path)
            throw error
        }
        try Self.syncDirectory(of: path)
    }

    /// Replaces `path` atomically: a new file next to it (created exclusively, mode 0600, synced),
    /// renamed over it, then the directory synced. A symbolic link at `path` is replaced, never
    /// followed.
    public static func write(_ data: Data, to path: String) throws {
        let temporary = "\(path).tmp-\(UInt64.random(in: 0...UInt64.max))"
        try Self.create(data, at: temporary)
        guard rename(temporary, path) == 0 else {
            let error = Self.lastError()
            unlink(temporary)
            throw ConfigurationError("cannot replace \(path): \(error)")
        }
        try Self.syncDirectory(of: path)
    }

    /// Appends one record to an append-only file (created 0600 if absent), then syncs it.
    public static func append(_ data: Data, to path: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw ConfigurationError("cannot open \(path): \(Self.lastError())") }
        defer { close(descriptor) }
        try Self.write(data, to: descriptor, path: path)
    }

    /// Reads a secret file; nil if there is none. A symbolic link, a file that others may read or
    /// write, or a file larger than `maximumBytes` is refused.
    public static func read(_ path: String, maximumBytes: Int = 1 << 20) throws -> Data? {
        let descriptor = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0 else {
            if errno == ENOENT { return nil }
            if errno == ELOOP { throw ConfigurationError("\(path) is a symbolic link; Integra reads secrets only from regular files") }
            throw ConfigurationError("cannot read \(path): \(Self.lastError())")
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else {
            throw ConfigurationError("\(path) is not a regular file")
        }
        guard status.st_mode & 0o077 == 0 else {
            throw ConfigurationError("\(path) is readable or writable by other users; run `chmod 600 \(path)`")
        }
        guard Int(status.st_size) <= maximumBytes else { throw ConfigurationError("\(path) is larger than \(maximumBytes) bytes") }
        var data = Data(count: Int(status.st_size))
        let count = data.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
        guard count == Int(status.st_size) else { throw ConfigurationError("cannot read \(path): \(Self.lastError())") }
        return data
    }

    private static func write(_ data: Data, to descriptor: Int32, path: String) throws {
        guard fchmod(descriptor, 0o600) == 0 else { throw ConfigurationError("cannot set mode 0600 on \(path)") }
        try data.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                guard written > 0 else { throw ConfigurationError("cannot write \(path): \(Self.lastError())") }
                offset += written
            }
        }
        guard fsync(descriptor) == 0 else { throw ConfigurationError("cannot sync \(path): \(Self.lastError())") }
    }

    private static func syncDirectory(of path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        let descriptor = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw ConfigurationError("cannot open directory of \(path): \(Self.lastError())") }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw ConfigurationError("cannot sync the directory of \(path): \(Self.lastError())") }
    }

    private static func lastError() -> String {
        String(cString: strerror(errno))
    }
}
