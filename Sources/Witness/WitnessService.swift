import Foundation
import Hummingbird
import IntegraFiles
public import IntegraTransparency
public import IntegraProtocol
public import Logging
import NIOCore
public import ServiceLifecycle
import Synchronization

/// The witness's HTTP listener (c2sp.org/tlog-witness): `POST /add-checkpoint`, which cosigns a
/// log's checkpoint when it extends the last one cosigned, and `GET /health/live`.
///
/// A `Service`: run it in a `ServiceGroup`, which stops it gracefully on SIGTERM or SIGINT.
/// Plain HTTP: a cosignature is checked against the witness's key wherever it is used, so the
/// channel adds nothing to it, and a request is only honoured if the log signed its checkpoint.
public final class WitnessService: Service, Sendable {
    private let configuration: WitnessConfiguration
    private let key: WitnessKey
    /// The logs witnessed, by origin (compared byte for byte, as checkpoints name them).
    private let logs: [[UInt8]: WitnessedLog]
    private let logger: Logger
    private let onListening: @Sendable (_ port: Int) async -> Void
    private let listening = Atomic<Bool>(false)

    /// A witness over the records in `configuration.dataDirectory`: loads its key and each log's
    /// latest cosigned checkpoint, re-verified with the log's key. `onListening` hears the bound
    /// port (a test's port 0).
    public init(configuration: WitnessConfiguration, logger: Logger, onListening: @escaping @Sendable (_ port: Int) async -> Void = { _ in }) throws(ConfigurationError) {
        try configuration.validate()
        guard DataDirectory.entryExists(configuration.dataDirectory) else {
            throw ConfigurationError("the data directory \(configuration.dataDirectory) does not exist; create the witness with `integra-witness init`")
        }
        try DataDirectory.check(configuration.dataDirectory)
        let key = try WitnessKey.load(from: configuration.dataDirectory)
        let store = WitnessStore(directory: configuration.dataDirectory)
        var logs: [[UInt8]: WitnessedLog] = [:]
        for logVerifier in configuration.logVerifiers {
            let latest = try store.latestCheckpoint(of: logVerifier)
            logger.info("witnessing a log", metadata: [
                "origin": "\(logVerifier.keyName)", "cosigned_size": "\(latest.map { String($0.treeSize) } ?? "none")",
            ])
            let state = WitnessState(logVerifier: logVerifier, latest: latest)
            logs[Array(logVerifier.keyName.utf8)] = WitnessedLog(state: state, cosigner: key.cosigner, store: store, logger: logger)
        }
        self.configuration = configuration
        self.key = key
        self.logs = logs
        self.logger = logger
        self.onListening = onListening
    }

    /// The witness's verifier key, which clients configure to count its cosignatures.
    public var verifier: NoteVerifier { self.key.verifier }

    /// Serves until the task is cancelled or the service group shuts down gracefully. A failure
    /// to listen (the port in use, an unknown host) is a `ConfigurationError` naming the address.
    public func run() async throws {
        let address = "\(self.configuration.host):\(self.configuration.port)"
        let application = Application(
            router: self.router(),
            server: .http1(configuration: .init(idleTimeout: .seconds(self.configuration.idleTimeoutSeconds))),
            configuration: ApplicationConfiguration(address: .hostname(self.configuration.host, port: self.configuration.port), serverName: nil),
            onServerRunning: { channel in
                self.listening.store(true, ordering: .releasing)
                let port = channel.localAddress?.port ?? self.configuration.port
                self.logger.notice("witness listening", metadata: ["address": "\(self.configuration.host):\(port)", "vkey": "\(self.verifier.verifierKey)"])
                await self.onListening(port)
            },
            logger: self.logger)
        do {
            try await application.run()
        } catch where !self.listening.load(ordering: .acquiring) {
            throw ConfigurationError("cannot listen on \(address): \(Self.describe(error))")
        }
    }

    /// Answers one `add-checkpoint` body: parse, find the log by origin, let it decide.
    func addCheckpoint(body: [UInt8]) async -> WitnessResponse {
        let request: WitnessRequest
        do {
            request = try WitnessRequest(parsing: body)
        } catch {
            return .malformed(error)
        }
        guard let log = self.logs[request.origin] else { return .refused(.unknownLog) }
        let nowSeconds = UInt64(clamping: self.configuration.clock.nowMs() / 1000)
        return await log.offer(request, nowSeconds: nowSeconds)
    }

    private func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.post("/add-checkpoint") { request, _ in
            // A larger body is answered 413 by Hummingbird (NIOTooManyBytesError).
            let body = try await request.body.collect(upTo: WitnessRequest.maximumByteCount)
            return Self.httpResponse(await self.addCheckpoint(body: Array(buffer: body)))
        }
        router.get("/health/live") { _, _ in
            Self.httpResponse(WitnessResponse(status: 200, contentType: WitnessResponse.textContentType, body: Array("live\n".utf8)))
        }
        return router
    }

    private static func httpResponse(_ response: WitnessResponse) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = response.contentType
        return Response(status: HTTPResponse.Status(code: response.status), headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: response.body)))
    }

    /// A listening failure in a few words: the system's reason when there is one.
    private static func describe(_ error: any Error) -> String {
        if let error = error as? IOError { return String(cString: strerror(error.errnoCode)) }
        return "\(error)"
    }
}
