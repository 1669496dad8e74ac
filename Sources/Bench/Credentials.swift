import Foundation
import IntegraFiles
import IntegraProtocol

/// A customer the bench logs in as.
public struct Credential: Hashable, Sendable {
    public let username: String
    public let password: String

    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }

    /// Reads `NAME PASSWORD` lines (blank lines and `#` comments skipped); at least two customers.
    public static func parse(_ text: String) throws(BenchUsageError) -> [Credential] {
        var credentials: [Credential] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty, !trimmed.hasPrefix("#") else { continue }
            let fields = trimmed.split(separator: " ", maxSplits: 1)
            guard fields.count == 2 else { throw BenchUsageError("credentials line \(number + 1) must be NAME PASSWORD") }
            credentials.append(Credential(username: String(fields[0]), password: String(fields[1])))
            guard credentials.count <= BenchOptions.maximumUsers else {
                throw BenchUsageError("at most \(BenchOptions.maximumUsers) credentials")
            }
        }
        guard credentials.count >= 2 else { throw BenchUsageError("credentials must name at least two customers (transfers need a recipient)") }
        return credentials
    }

    /// Creates `count` customers on a server the bench started, each funded generously, through
    /// the admin commands (`user add`, `deposit`), `parallelism` at a time.
    static func provision(count: Int, on server: LocalServer, bcryptCost: UInt8, parallelism: Int, workDirectory: String) async throws -> [Credential] {
        let password = Self.randomPassword()
        let passwordPath = "\(workDirectory)/password"
        try SecretFile.write(Data((password + "\n").utf8), to: passwordPath)
        let credentials = (0..<count).map { Credential(username: String(format: "bench%05d", $0), password: password) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            func addNext() {
                let credential = credentials[next]
                next += 1
                group.addTask {
                    try await server.admin(["user", "add", credential.username, "--password-stdin", "--bcrypt-cost", "\(bcryptCost)"], inputPath: passwordPath)
                    try await server.admin(["deposit", credential.username, Self.fundingAmount, "--id", "bench-funding-\(credential.username)"])
                }
            }
            while next < min(parallelism, credentials.count) { addNext() }
            while try await group.next() != nil {
                if next < credentials.count { addNext() }
            }
        }
        return credentials
    }

    /// Enough that no customer runs out: 10,000,000.00 each, against transfers of 0.01.
    static let fundingAmount = "10000000.00"

    static func randomPassword() -> String {
        let alphabet = Array("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<24).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }
}
