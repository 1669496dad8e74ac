import Foundation
public import IntegraProtocol

/// The deployment's data directory: keys, `client.json`, anchors, alarms, the SQLite file. It
/// must belong to the user the server runs as and be writable by nobody else, or anyone who can
/// write there could replace a key or plant a link.
public enum DataDirectory {
    /// Creates the directory (mode 0700) if it does not exist, then checks it (`run` only).
    public static func prepare(_ directory: String) throws(ConfigurationError) {
        if !Self.entryExists(directory) {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw ConfigurationError("cannot create data directory \(directory): \(error.localizedDescription)")
            }
        }
        try Self.check(directory)
    }

    /// Checks an existing directory: a directory, owned by this user, not writable by group or others.
    public static func check(_ directory: String) throws(ConfigurationError) {
        var status = stat()
        guard stat(directory, &status) == 0 else {
            if errno == ENOENT { throw ConfigurationError(DeploymentMissing(directory: directory).description) }
            throw ConfigurationError("cannot read data directory \(directory): \(String(cString: strerror(errno)))")
        }
        guard (status.st_mode & S_IFMT) == S_IFDIR else { throw ConfigurationError("\(directory) exists and is not a directory") }
        guard status.st_uid == geteuid() else {
            throw ConfigurationError("data directory \(directory) belongs to another user (uid \(status.st_uid)); run the server as its owner")
        }
        guard status.st_mode & 0o022 == 0 else {
            throw ConfigurationError("data directory \(directory) is writable by group or others; run `chmod 700 \(directory)`")
        }
    }

    /// Whether anything (a file, a directory, a symbolic link, even a dangling one) is at `path`.
    public static func entryExists(_ path: String) -> Bool {
        var status = stat()
        return lstat(path, &status) == 0
    }
}
