import IntegraClient
public import IntegraProtocol

/// A server under load: how to reach it and whom to log in as.
public struct TransferTarget: Sendable {
    public let configuration: ClientConfiguration
    public let address: String
    public let credentials: [Credential]
    public let timeoutMs: Int64
    /// The server's process id when the bench started it (for its CPU time).
    public let serverPID: Int32?
    /// Makes transfer ids unique across runs against the same ledger.
    let runID: String

    public init(configuration: ClientConfiguration, address: String, credentials: [Credential], timeoutMs: Int64, serverPID: Int32? = nil) {
        self.serverPID = serverPID
        precondition(credentials.count >= 2, "transfers need a recipient")
        self.configuration = configuration
        self.address = address
        self.credentials = credentials
        self.timeoutMs = timeoutMs
        self.runID = String(UInt32.random(in: 0...UInt32.max), radix: 36)
    }

    /// The customer a session or worker logs in as.
    func sender(_ index: Int) -> Credential { self.credentials[index % self.credentials.count] }

    /// The recipient of transfer `counter` from the customer at `senderIndex`: never the sender,
    /// cycling over everyone else so money keeps moving in every direction.
    func recipient(senderIndex: Int, counter: Int64) -> Credential {
        let count = self.credentials.count
        let step = 1 + Int(counter % Int64(count - 1))
        return self.credentials[(senderIndex % count + step) % count]
    }

    /// A transfer id unique in this run: run, label, session, counter (at most 64 characters).
    func transferID(_ label: String, session: Int, counter: Int64) -> String {
        "\(self.runID)-\(label)-\(session)-\(counter)"
    }

    func connect<T>(_ body: (IntegraConnection) async throws -> T) async throws -> T {
        try await IntegraConnection.withConnection(configuration: self.configuration, server: self.address, timeoutMs: self.timeoutMs, body)
    }

    /// The stable name of a failure, for the errors-by-code table.
    static func errorName(_ error: any Error) -> String {
        (error as? IntegraClientError)?.name ?? "local_error"
    }

    /// Whether the connection survives this failure (the server answered with an error frame
    /// that does not close it).
    static func keepsConnection(_ error: any Error) -> Bool {
        guard let error = error as? IntegraClientError, error.kind == .server, let code = error.code else { return false }
        return !(ErrorCode(rawValue: code)?.closesConnection ?? true)
    }
}
