import Foundation
public import Hummingbird
import HummingbirdCore
import HummingbirdTLS
public import IntegraServer
public import Logging
import NIOCore
import NIOSSL
public import ServiceLifecycle
import Synchronization

/// The admin listener: `GET /metrics` (Prometheus text), `GET /health/live`, `GET /health/ready`,
/// the operator page (`/`, `/app.js`, `/style.css`) and `GET /api/status`, which the page polls.
///
/// A `Service` in the server's service group: it keeps answering while the deployment drains
/// (ready then says "shutting down") and stops with the group. Every request but the page's own
/// files needs the bearer token when one is configured.
public final class AdminServer: Service, Sendable {
    /// Reads the deployment's state (`IntegraDeployment.operationalState`).
    public typealias StateSource = @Sendable () async -> OperationalState

    private let configuration: AdminConfiguration
    private let exporter: MetricsExporter
    private let state: StateSource
    private let activity: ActivityTally
    private let page: AdminPage
    private let sampleIntervalMs: Int64
    private let window: Mutex<RollingWindow>
    private let logger: Logger
    private let bound = Mutex<(address: SocketAddress?, waiters: [CheckedContinuation<SocketAddress?, Never>])>((nil, []))
    private let finished = Atomic<Bool>(false)

    public init(
        configuration: AdminConfiguration, exporter: MetricsExporter, activity: ActivityTally, page: AdminPage = AdminPage(),
        sampleIntervalMs: Int64 = 2_000, logger: Logger, state: @escaping StateSource
    ) {
        self.configuration = configuration
        self.exporter = exporter
        self.state = state
        self.activity = activity
        self.page = page
        self.sampleIntervalMs = sampleIntervalMs
        self.window = Mutex(RollingWindow(intervalMs: sampleIntervalMs))
        self.logger = logger
    }

    /// The address the listener bound, once it runs (nil if it stopped before binding).
    public func boundAddress() async -> SocketAddress? {
        await withCheckedContinuation { continuation in
            let ready: SocketAddress?? = self.bound.withLock { bound in
                if bound.address != nil || self.finished.load(ordering: .acquiring) { return .some(bound.address) }
                bound.waiters.append(continuation)
                return .none
            }
            if case .some(let address) = ready { continuation.resume(returning: address) }
        }
    }

    public func run() async throws {
        defer { self.settleBound(nil, finished: true) }
        if self.page.directory == nil {
            self.logger.warning("the operator page's files were not found next to the executable; / answers 404", metadata: ["bundle": "\(AdminPage.bundleName)"])
        }
        let application = Application(
            router: self.router(), server: try self.serverBuilder(),
            configuration: ApplicationConfiguration(address: .hostname(self.configuration.host, port: self.configuration.port)),
            onServerRunning: { channel in
                let address = channel.localAddress
                self.settleBound(address, finished: false)
                self.logger.notice("admin listener ready", metadata: [
                    "address": "\(self.configuration.host):\(address?.port ?? self.configuration.port)",
                    "transport": "\(self.configuration.usesTLS ? "https" : "http")",
                ])
            },
            logger: self.logger)
        // The application's own service group follows this one's graceful shutdown.
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await self.sample() }
            try await application.run()
            group.cancelAll()
        }
    }

    private func settleBound(_ address: SocketAddress?, finished: Bool) {
        if finished { self.finished.store(true, ordering: .releasing) }
        let waiters = self.bound.withLock { bound in
            if address != nil { bound.address = address }
            let waiters = bound.waiters
            bound.waiters = []
            return (waiters, bound.address)
        }
        for waiter in waiters.0 { waiter.resume(returning: waiters.1) }
    }

    private func serverBuilder() throws -> HTTPServerBuilder {
        guard let certificatePath = self.configuration.tlsCertificatePath, let keyPath = self.configuration.tlsKeyPath else { return .http1() }
        let chain = try NIOSSLCertificate.fromPEMFile(certificatePath).map { NIOSSLCertificateSource.certificate($0) }
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(try NIOSSLPrivateKey(file: keyPath, format: .pem)))
        tls.minimumTLSVersion = .tlsv12
        return try .tls(.http1(), tlsConfiguration: tls)
    }

    /// Adds a snapshot of the running totals to the 15-minute window every interval.
    private func sample() async {
        while !Task.isCancelled {
            let snapshot = self.activity.snapshot()
            let nowMs = Int64(Date().timeIntervalSince1970 * 1000)
            self.window.withLock { $0.add(snapshot, atMs: nowMs) }
            do { try await Task.sleep(for: .milliseconds(self.sampleIntervalMs)) } catch { return }
        }
    }

    private func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: AdminAuthorization(token: self.configuration.token))
        router.get("/health/live") { _, _ in Self.text(.ok, "live\n") }
        router.get("/health/ready") { _, _ in
            switch Readiness(await self.state()) {
            case .ready: Self.text(.ok, "ready\n")
            case .notReady(let reason): Self.text(.serviceUnavailable, "not ready: \(reason)\n")
            }
        }
        router.get("/metrics") { _, _ in
            let body = self.exporter.scrape(await self.state(), nowMs: Self.nowMs())
            return Self.response(.ok, contentType: "text/plain; version=0.0.4; charset=utf-8", body)
        }
        router.get("/api/status") { _, _ in
            let state = await self.state()
            let window = self.window.withLock { $0 }
            let status = OperatorStatus(state: state, activity: self.activity.snapshot(), window: window, nowMs: Self.nowMs())
            var response = Self.response(.ok, contentType: "application/json", status.json())
            response.headers[.cacheControl] = "no-store"
            return response
        }
        for path in AdminPage.files.keys {
            router.get(RouterPath(path)) { _, _ in
                guard let file = self.page.files[path] else { return Self.text(.notFound, "the operator page is not installed next to the executable\n") }
                return Self.response(.ok, contentType: file.contentType, file.bytes)
            }
        }
        return router
    }

    static func nowMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    static func text(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Self.response(status, contentType: "text/plain; charset=utf-8", Array(text.utf8))
    }

    static func response(_ status: HTTPResponse.Status, contentType: String, _ bytes: [UInt8]) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = contentType
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

/// Refuses requests without the admin token (401), except for the page's own files, which hold
/// no data: the page sends the token with its requests.
struct AdminAuthorization<Context: RequestContext>: RouterMiddleware {
    let token: AdminToken?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let token = self.token, AdminPage.files[request.uri.path] == nil else { return try await next(request, context) }
        guard token.accepts(authorization: request.headers[.authorization]) else {
            var response = AdminServer.text(.unauthorized, "a valid admin token is required (Authorization: Bearer TOKEN)\n")
            response.headers[.wwwAuthenticate] = "Bearer"
            return response
        }
        return try await next(request, context)
    }
}
