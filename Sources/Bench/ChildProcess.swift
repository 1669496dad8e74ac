import Foundation
import Synchronization

/// A process the bench started, with posix_spawn (Foundation's `Process` is avoided: its
/// `waitUntilExit` can hang on Linux).
public struct ChildProcess: Sendable {
    public let pid: Int32
    public let executable: String

    /// Starts `executable` with `arguments`; standard input from `inputPath` (or /dev/null),
    /// standard output and error appended to `outputPath`.
    public static func spawn(_ executable: String, _ arguments: [String], inputPath: String? = nil, outputPath: String) throws(BenchFailure) -> ChildProcess {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, inputPath ?? "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        guard status == 0 else {
            throw BenchFailure("cannot start \(executable): \(String(cString: strerror(status)))")
        }
        ChildRegistry.shared.add(pid)
        return ChildProcess(pid: pid, executable: executable)
    }

    /// The exit status if the process has ended (reaping it), nil while it runs.
    public func exitStatusIfEnded() -> Int32? {
        var status: Int32 = 0
        let result = waitpid(self.pid, &status, WNOHANG)
        guard result == self.pid else { return result < 0 ? -1 : nil }
        ChildRegistry.shared.remove(self.pid)
        return Self.decode(status)
    }

    /// Waits for the process to end and returns its exit status (128 + signal if killed).
    public func wait() async -> Int32 {
        while true {
            if let status = self.exitStatusIfEnded() { return status }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// SIGTERM, then SIGKILL if it has not ended within `graceMs`.
    public func stop(graceMs: Int64 = 10_000) async {
        guard self.exitStatusIfEnded() == nil else { return }
        kill(self.pid, SIGTERM)
        let deadline = ContinuousClock.now + .milliseconds(graceMs)
        while ContinuousClock.now < deadline {
            if self.exitStatusIfEnded() != nil { return }
            try? await Task.sleep(for: .milliseconds(20))
        }
        kill(self.pid, SIGKILL)
        _ = await self.wait()
    }

    private static func decode(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }
}

/// Every child still running and every temporary directory, so Ctrl-C can clean up.
public final class ChildRegistry: Sendable {
    public static let shared = ChildRegistry()

    private struct State {
        var pids: Set<pid_t> = []
        var directories: Set<String> = []
    }

    private let state = Mutex(State())

    func add(_ pid: pid_t) { self.state.withLock { _ = $0.pids.insert(pid) } }
    func remove(_ pid: pid_t) { self.state.withLock { _ = $0.pids.remove(pid) } }
    public func addDirectory(_ path: String) { self.state.withLock { _ = $0.directories.insert(path) } }
    public func removeDirectory(_ path: String) {
        self.state.withLock { _ = $0.directories.remove(path) }
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Stops every child (SIGTERM, up to 10 s, then SIGKILL) and removes the directories.
    /// Blocking: meant for a signal handler's last act before exit.
    public func terminateAll() {
        let (pids, directories) = self.state.withLock { ($0.pids, $0.directories) }
        for pid in pids { kill(pid, SIGTERM) }
        for pid in pids {
            var status: Int32 = 0
            var waitedMs = 0
            while waitpid(pid, &status, WNOHANG) == 0 && waitedMs < 10_000 {
                usleep(20_000)
                waitedMs += 20
            }
            if waitedMs >= 10_000 {
                kill(pid, SIGKILL)
                waitpid(pid, &status, 0)
            }
        }
        for directory in directories { try? FileManager.default.removeItem(atPath: directory) }
    }
}

/// A bench run that cannot go on, with the reason.
public struct BenchFailure: Error, CustomStringConvertible, Sendable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
