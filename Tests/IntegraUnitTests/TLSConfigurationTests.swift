import Foundation
import IntegraFiles
import IntegraProtocol
@testable import IntegraServer
import IntegraTestSupport
import Testing

/// The transport as configured, before anything connects.
@Suite struct TLSConfigurationTests {
    @Test func plaintextIsRefusedOnAnAddressOtherThanLoopback() {
        var configuration = ServerConfiguration()
        configuration.plaintext = true
        configuration.host = "0.0.0.0"
        #expect(throws: ConfigurationError.self) { try configuration.validate() }
        configuration.host = "127.0.0.1"
        #expect(throws: Never.self) { try configuration.validate() }
    }

    @Test func clientConfigurationFromBeforeTLSIsRefusedWithAClearMessage() throws {
        try withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("client.json").path
            let old = #"{"version":1,"server":"127.0.0.1:8080","clientKey":"AAAA","serverIdentityKey":"AAAA","replayWindowSeconds":120}"#
            try Data(old.utf8).write(to: URL(fileURLWithPath: path))
            #expect {
                _ = try ClientConfiguration.load(from: path)
            } throws: { error in
                (error as? ConfigurationError)?.message.contains("copy the current client.json") == true
            }
        }
    }
}
