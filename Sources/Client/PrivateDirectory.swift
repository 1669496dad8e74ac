import Foundation
import IntegraProtocol

/// Directories the client keeps private files in (receipts, device tokens): real directories,
/// never symbolic links, owned by the user running the client, with mode 0700.
enum PrivateDirectory {
    /// Creates `path` with mode 0700 if it is missing. An existing one must be a real directory
    /// owned by this user; it loses any permission for others (earlier versions created them
    /// readable by everyone).
    static func ensure(_ path: String) throws(ConfigurationError) {
        if mkdir(path, 0o700) != 0 && errno != EEXIST {
            throw ConfigurationError("cannot create directory \(path): \(Self.lastError())")
        }
        let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw ConfigurationError("\(path) is not a directory (a symbolic link or a file is in its place): \(Self.lastError())")
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw ConfigurationError("cannot inspect \(path): \(Self.lastError())") }
        guard status.st_uid == geteuid() else { throw ConfigurationError("\(path) belongs to another user") }
        if status.st_mode & 0o7777 != 0o700 {
            guard fchmod(descriptor, 0o700) == 0 else { throw ConfigurationError("cannot set mode 0700 on \(path): \(Self.lastError())") }
        }
    }

    /// Creates `parent/component` (and `parent` itself) as private directories, and checks that
    /// the result resolves to a direct child of `parent`. Returns the path of the child.
    static func ensureChild(_ component: String, of parent: String) throws(ConfigurationError) -> String {
        try Self.ensure(parent)
        let child = try Self.childPath(component, of: parent)
        try Self.ensure(child)
        guard let resolvedParent = Self.resolved(parent), let resolvedChild = Self.resolved(child),
              (resolvedChild as NSString).deletingLastPathComponent == resolvedParent
        else {
            throw ConfigurationError("\(child) does not resolve to a directory inside \(parent)")
        }
        return child
    }

    /// `parent/component`, refusing a component that could name anything but a direct child.
    static func childPath(_ component: String, of parent: String) throws(ConfigurationError) -> String {
        guard !component.isEmpty, component != ".", component != "..", !component.contains("/"), !component.utf8.contains(0) else {
            throw ConfigurationError("\(component.debugDescription) is not a file name")
        }
        return (parent as NSString).appendingPathComponent(component)
    }

    /// Whether `path` is a real directory (a symbolic link is not).
    static func isDirectory(_ path: String) -> Bool {
        var status = stat()
        return lstat(path, &status) == 0 && status.st_mode & S_IFMT == S_IFDIR
    }

    /// Whether `path` is a regular file (a symbolic link is not).
    static func isRegularFile(_ path: String) -> Bool {
        var status = stat()
        return lstat(path, &status) == 0 && status.st_mode & S_IFMT == S_IFREG
    }

    private static func resolved(_ path: String) -> String? {
        guard let pointer = realpath(path, nil) else { return nil }
        defer { free(pointer) }
        return String(cString: pointer)
    }

    private static func lastError() -> String {
        String(cString: strerror(errno))
    }
}

/// The directory of a configuration file, as an absolute path: the client keeps its files there.
enum ConfigurationDirectory {
    static func of(_ configurationPath: String) -> String {
        URL(fileURLWithPath: configurationPath).standardizedFileURL.deletingLastPathComponent().path
    }
}
