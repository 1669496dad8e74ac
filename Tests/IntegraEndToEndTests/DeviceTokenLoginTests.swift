import Foundation
import IntegraClient
import IntegraFiles
import IntegraProtocol
import IntegraServer
import IntegraTestSupport
import Testing

/// The client keeps the device token of each login (`DeviceTokenStore`), against a real server.
@Suite struct DeviceTokenLoginTests {
    @Test func eachLoginKeepsTheNewTokenTheServerIssued() async throws {
        try await withTemporaryDirectory { directory in
            try await withTestServer { server in
                try await server.addCustomer("alice", cents: 0)
                let configurationPath = directory.appendingPathComponent("client.json").path
                let store = try DeviceTokenStore(configurationPath: configurationPath, configuration: server.clientConfiguration)
                let tokens = DeviceTokens(storageKey: server.deployment.keys.storageKey)
                var kept: [[UInt8]] = []
                for _ in 0..<2 {
                    let session = try await server.withClient {
                        try await $0.login(username: "Alice", password: TestServer.password, deviceTokens: store) { Issue.record("not kept: \($0)") }
                    }
                    #expect(session.username == "alice")
                    let token = try #require(store.token(canonicalName: "alice"))
                    #expect(tokens.identify(token, canonicalName: "alice", nowMs: server.clock.nowMs()) != nil)
                    kept.append(token)
                }
                #expect(kept[0] != kept[1])
                // A garbage file does not stop the login; it is replaced by a good token.
                try SecretFile.write(Data("garbage".utf8), to: store.path(canonicalName: "alice"))
                try await server.withClient {
                    try await $0.login(username: "alice", password: TestServer.password, deviceTokens: store) { Issue.record("not kept: \($0)") }
                }
                #expect(store.token(canonicalName: "alice") != nil)
            }
        }
    }
}
