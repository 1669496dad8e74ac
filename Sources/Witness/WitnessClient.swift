public import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
public import IntegraTransparency

/// What a log uses to push its checkpoints to one witness (c2sp.org/tlog-witness
/// `add-checkpoint`) and collect the witness's cosignature.
///
/// Plain HTTP is enough: every cosignature is verified here with the witness's key before it is
/// returned, and the witness honours only checkpoints the log signed, so a party on the path can
/// delay or drop a push but can neither forge a cosignature nor move the witness.
public final class WitnessClient: Sendable {
    /// Where the witness listens: its submission prefix, e.g. `http://witness.example:9470`.
    public let url: URL
    /// The witness's key, which its cosignatures must verify with.
    public let witness: NoteVerifier
    private let session: URLSession

    /// The largest answer read; a witness answers a few signature lines.
    static let maximumResponseByteCount = 65_536

    /// A client of the witness at `url` (the `add-checkpoint` path is appended), whose key is
    /// `witness` (type 0x04). A push that takes longer than `timeout`, connection included, fails
    /// with `WitnessClientError.transport`.
    public init(url: URL, witness: NoteVerifier, timeout: Duration = .seconds(10)) {
        self.url = url
        self.witness = witness
        let configuration = URLSessionConfiguration.ephemeral
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        configuration.timeoutIntervalForRequest = seconds
        configuration.timeoutIntervalForResource = seconds
        configuration.httpShouldSetCookies = false
        configuration.urlCache = nil
        self.session = URLSession(configuration: configuration)
    }

    deinit {
        self.session.finishTasksAndInvalidate()
    }

    /// Offers the signed checkpoint `noteBytes` as extending the tree of `oldSize` leaves that the
    /// witness last cosigned (0 for the first push, with an empty proof), with the RFC 9162
    /// consistency proof from there. Returns the verified cosignature, the witness's size on a
    /// conflict, or its refusal; throws `WitnessClientError` when there is no usable answer.
    public func addCheckpoint(noteBytes: [UInt8], oldSize: UInt64, consistencyProof: [[UInt8]]) async throws(WitnessClientError) -> AddCheckpointResult {
        var request = URLRequest(url: self.url.appendingPathComponent("add-checkpoint"))
        request.httpMethod = "POST"
        request.httpBody = Data(WitnessRequest(oldSize: oldSize, consistencyProof: consistencyProof, noteBytes: noteBytes).bytes)
        request.setValue("text/plain; charset=utf-8", forHTTPHeaderField: "Content-Type")
        request.timeoutInterval = self.session.configuration.timeoutIntervalForRequest
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await self.session.data(for: request)
        } catch {
            throw .transport(error.localizedDescription)
        }
        guard let http = response as? HTTPURLResponse else { throw .invalidResponse("the witness's answer is not HTTP") }
        guard data.count <= Self.maximumResponseByteCount else {
            throw .invalidResponse("the witness's answer is larger than \(Self.maximumResponseByteCount) bytes")
        }
        return try AddCheckpointResult.parsing(status: http.statusCode, body: Array(data), noteBytes: noteBytes, witness: self.witness)
    }
}
