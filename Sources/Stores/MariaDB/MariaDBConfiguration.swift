/// Where a MariaDB database is, how to log in to it and how the connection is protected
/// (available without the MariaDB trait: the configuration carries it).
public struct MariaDBConfiguration: Hashable, Sendable {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String
    public var database: String
    /// How the connection is protected; an encrypted mode that cannot be had fails the connection.
    public var tls: DatabaseTLS
    public var connectTimeoutSeconds: UInt32 = 3
    public var readWriteTimeoutSeconds: UInt32 = 15

    public init(host: String, port: Int, user: String, password: String, database: String, tls: DatabaseTLS) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.tls = tls
    }
}
