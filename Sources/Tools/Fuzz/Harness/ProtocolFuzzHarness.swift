public import IntegraProtocol
import NIOCore

/// The fuzz target's one entry point: everything Integra parses from a peer, driven by one input.
///
/// The input is a byte stream as a server or client would read it from a socket. It goes through
/// the frame parser whole and split at arbitrary points, every frame's body is decoded as every
/// message type and through the strict field reader, decoded text goes through the amount, name,
/// transfer id and password rules, and the frames drive both connection state machines. A broken
/// property stops the process (`FuzzProperty.require`), which libFuzzer reports as a finding.
public enum ProtocolFuzzHarness {
    /// Frames of one input whose bodies and state-machine effects are checked (the stream check
    /// covers all of them).
    public static let maximumCheckedFrames = 16

    /// Runs every check on one input and says which paths it reached.
    public static func run(_ input: [UInt8]) -> FuzzRunSummary {
        var summary = FuzzRunSummary()
        let frames = StreamChecks.run(input, summary: &summary)
        let checked = Array(frames.prefix(Self.maximumCheckedFrames))
        for frame in checked {
            MessageChecks.run(frame: frame, summary: &summary)
        }
        DomainChecks.text(input, summary: &summary)
        if !checked.isEmpty {
            var raw = ServerSessionDriver(resealing: false)
            raw.run(checked, summary: &summary)
            var resealed = ServerSessionDriver(resealing: true)
            resealed.run(checked, summary: &summary)
            var client = ClientSessionDriver()
            client.run(checked, summary: &summary)
        }
        return summary
    }
}

/// What one run reached, so tests can tell that a corpus exercises the deep paths.
public struct FuzzRunSummary: Sendable {
    /// Complete frames the parser split off the input.
    public var frames = 0
    /// Message types whose decoding succeeded (and round-tripped).
    public var decodedClientTypes: Set<MessageType> = []
    public var decodedServerTypes: Set<MessageType> = []
    /// Requests the server state machine asked the ledger to perform, by message type.
    public var performedRequests: Set<MessageType> = []
    /// Whether a login handshake completed and a request was then authenticated with session keys.
    public var sessionRequestAuthenticated = false
    /// Replies the client state machine accepted.
    public var clientRepliesAccepted = 0
    public var amountsAccepted = 0
    public var usernamesAccepted = 0

    public init() {}

    /// Adds another run's reach to this one.
    public mutating func merge(_ other: FuzzRunSummary) {
        self.frames += other.frames
        self.decodedClientTypes.formUnion(other.decodedClientTypes)
        self.decodedServerTypes.formUnion(other.decodedServerTypes)
        self.performedRequests.formUnion(other.performedRequests)
        self.sessionRequestAuthenticated = self.sessionRequestAuthenticated || other.sessionRequestAuthenticated
        self.clientRepliesAccepted += other.clientRepliesAccepted
        self.amountsAccepted += other.amountsAccepted
        self.usernamesAccepted += other.usernamesAccepted
    }
}

/// A property every input must keep. A violation is a bug in Integra, never in the input.
enum FuzzProperty {
    static func require(_ condition: Bool, _ message: @autoclosure () -> String, file: StaticString = #fileID, line: UInt = #line) {
        if !condition {
            fatalError("fuzz property violated: \(message())", file: file, line: line)
        }
    }
}
