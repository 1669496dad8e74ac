import AsyncHTTPClient
public import Foundation
public import IntegraTransparency
import NIOCore

/// What a log uses to push its checkpoints to one witness (c2sp.org/tlog-witness
/// `add-checkpoint`) and collect the witness's cosignature.
///
/// Plain HTTP is enough: every cosignature is verified here with the witness's key before it is
/// returned, and the witness honours only checkpoints the log signed, so a party on the path can
/// delay or drop a push but can neither forge a cosignature nor move the witness.
///
/// Requests go through AsyncHTTPClient's shared client on NIO's event loops: its deadline covers
/// the whole push, connection and answer included, and is kept under load.
public final class WitnessClient: Sendable {
    /// Where the witness listens: its submission prefix, e.g. `http://witness.example:9470`.
    public let url: URL
    /// The witness's key, which its cosignatures must verify with.
    public let witness: NoteVerifier
    private let timeout: Duration

    /// The largest answer read; a witness answers a few signature lines.
    static let maximumResponseByteCount = 65_536

    /// A client of the witness at `url` (the `add-checkpoint` path is appended), whose key is
    /// `witness` (type 0x04). A push that takes longer than `timeout`, connection included, fails
    /// with `WitnessClientError.transport`.
    public init(url: URL, witness: NoteVerifier, timeout: Duration = .seconds(10)) {
        self.url = url
        self.witness = witness
        self.timeout = timeout
    }

    /// Offers the signed checkpoint `noteBytes` as extending the tree of `oldSize` leaves that the
    /// witness last cosigned (0 for the first push, with an empty proof), with the RFC 9162
    /// consistency proof from there. Returns the verified cosignature, the witness's size on a
    /// conflict, or its refusal; throws `WitnessClientError` when there is no usable answer.
    public func addCheckpoint(noteBytes: [UInt8], oldSize: UInt64, consistencyProof: [[UInt8]]) async throws(WitnessClientError) -> AddCheckpointResult {
        var request = HTTPClientRequest(url: self.url.appendingPathComponent("add-checkpoint").absoluteString)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        request.body = .bytes(ByteBuffer(bytes: WitnessRequest(oldSize: oldSize, consistencyProof: consistencyProof, noteBytes: noteBytes).bytes))
        let (seconds, attoseconds) = self.timeout.components
        let deadline = NIODeadline.now() + .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        let status: Int
        var body: ByteBuffer
        do {
            let response = try await HTTPClient.shared.execute(request, deadline: deadline)
            status = Int(response.status.code)
            body = try await response.body.collect(upTo: Self.maximumResponseByteCount)
        } catch is NIOTooManyBytesError {
            throw .invalidResponse("the witness's answer is larger than \(Self.maximumResponseByteCount) bytes")
        } catch {
            throw .transport("\(error)")
        }
        return try AddCheckpointResult.parsing(
            status: status, body: body.readBytes(length: body.readableBytes) ?? [], noteBytes: noteBytes, witness: self.witness)
    }
}
