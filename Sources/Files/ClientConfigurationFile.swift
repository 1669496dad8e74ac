import Foundation
public import IntegraProtocol

/// `client.json` on disk: read and checked, or written with mode 0600 (it holds the client key).
extension ClientConfiguration {
    /// Reads and checks a configuration file.
    public static func load(from path: String) throws(ConfigurationError) -> ClientConfiguration {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ConfigurationError("cannot read client configuration \(path)")
        }
        let configuration: ClientConfiguration
        do {
            configuration = try JSONDecoder().decode(ClientConfiguration.self, from: data)
        } catch let error as ConfigurationError {
            throw ConfigurationError("client configuration \(path): \(error.message)")
        } catch {
            throw ConfigurationError("client configuration \(path) is not valid: \(error)")
        }
        _ = try configuration.stateMachineConfiguration()
        _ = try configuration.tlsPin()
        return configuration
    }

    /// Writes the file with mode 0600 (it holds the client key).
    public func write(to path: String) throws(ConfigurationError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            let data = try encoder.encode(self) + Data("\n".utf8)
            try SecretFile.write(data, to: path)
        } catch {
            throw ConfigurationError("cannot write client configuration \(path): \(error)")
        }
    }
}
