import CoreMetrics
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
@testable import IntegraAdmin
import IntegraServer
import Logging
import Testing

/// The admin listener over a real loopback socket: the token is checked on every data endpoint.
@Suite struct AdminListenerTests {
    static let token = "s3cret-admin-token-0123456789"

    static func get(_ url: String, token: String? = nil) async throws -> (Int, String) {
        var request = URLRequest(url: URL(string: url)!)
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    @Test func wrongOrMissingTokenIsRefusedAndTheRightOneServed() async throws {
        let configuration = AdminConfiguration(host: "127.0.0.1", port: 0, token: try AdminToken(fileText: Self.token))
        let exporter = MetricsExporter()
        var logger = Logger(label: "integra.admin.test")
        logger.logLevel = .warning
        let admin = AdminServer(configuration: configuration, exporter: exporter, activity: exporter.serverMetrics.activity, logger: logger) {
            OperationalState(headPosition: 5)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await admin.run() }
            let port = try #require(await admin.boundAddress()?.port)
            let base = "http://127.0.0.1:\(port)"
            for path in ["/metrics", "/api/status", "/health/ready", "/health/live"] {
                #expect(try await Self.get(base + path).0 == 401)
                #expect(try await Self.get(base + path, token: "wrong-token-0123456789abc").0 == 401)
            }
            let (status, metrics) = try await Self.get(base + "/metrics", token: Self.token)
            #expect(status == 200)
            #expect(metrics.contains("integra_ledger_head_position 5"))
            #expect(try await Self.get(base + "/health/ready", token: Self.token).0 == 200)
            // The page's own files hold no data and are served without the token.
            let (pageStatus, page) = try await Self.get(base + "/")
            #expect(pageStatus == 200)
            #expect(page.contains("head-position"))
            group.cancelAll()
            try? await group.waitForAll()
        }
    }
}
