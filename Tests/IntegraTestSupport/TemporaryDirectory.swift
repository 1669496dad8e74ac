package import Foundation

/// Fresh directories under the system's temporary directory, one per test, removed afterwards
/// with everything in them (keys, databases, audit trails).
package enum TemporaryDirectory {
    /// A new, empty directory. Prefer `withTemporaryDirectory`, which removes it.
    package static func make() -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("integra-test-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Removes `directory` and everything below it.
    package static func remove(_ directory: URL) {
        try? FileManager.default.removeItem(at: directory)
    }
}

/// Runs `body` with a new, empty directory and removes it afterwards, also when `body` throws.
package func withTemporaryDirectory<T>(_ body: (URL) async throws -> T) async throws -> T {
    let directory = TemporaryDirectory.make()
    defer { TemporaryDirectory.remove(directory) }
    return try await body(directory)
}

/// Runs `body` with a new, empty directory and removes it afterwards, also when `body` throws.
package func withTemporaryDirectory<T>(_ body: (URL) throws -> T) rethrows -> T {
    let directory = TemporaryDirectory.make()
    defer { TemporaryDirectory.remove(directory) }
    return try body(directory)
}

/// A test's own failure, thrown where an expectation cannot go on.
package struct TestFailure: Error, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
}
