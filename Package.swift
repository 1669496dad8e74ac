// swift-tools-version: 6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    // Release builds optimise across Integra's own modules: verify's per-entry path calls the
    // domain module's seal and encoding, which would otherwise not be inlined or specialised
    // (scripts/verify-bench, docs/PERFORMANCE.md).
    .unsafeFlags(["-cross-module-optimization"], .when(configuration: .release)),
]

/// What every test tier depends on: the modules it tests and what the tiers share.
let testTierDependencies: [Target.Dependency] = [
    "IntegraTransparency",
    "IntegraProtocol",
    "IntegraLedger",
    "IntegraStoreFactory",
    "IntegraServer",
    "IntegraClient",
    "IntegraVerifier",
    "IntegraTestSupport",
]

let package = Package(
    name: "Integra",
    // Linux only: the stores and the secret files call Glibc directly, and the verifier BoringSSL.
    products: [
        .executable(name: "integra-server", targets: ["IntegraServerCLI"]),
        .executable(name: "integra", targets: ["IntegraCLI"]),
        .executable(name: "integra-bench", targets: ["IntegraBenchCLI"]),
        .library(name: "IntegraClient", targets: ["IntegraClient"]),
        .executable(name: "integra-bank", targets: ["IntegraBank"]),
        .executable(name: "integra-ledger-fill", targets: ["IntegraLedgerFill"]),
        .executable(name: "integra-fuzz", targets: ["IntegraFuzz"]),
        .executable(name: "integra-witness", targets: ["IntegraWitnessCLI"]),
        .library(name: "IntegraWitness", targets: ["IntegraWitness"]),
    ],
    traits: [
        .trait(name: "MariaDB", description: "The MariaDB store, through MariaDB's own client library (libmariadb-dev)."),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/vapor/sqlite-nio.git", from: "1.13.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", exact: "0.2.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
    ],
    targets: [
        // Wire format, keys and the pure connection state machines. No I/O.
        // The transparency log's pure parts: the RFC 9162 Merkle tree (appending, proof plans,
        // verifiers) and C2SP signed notes, checkpoints and cosignatures. No I/O.
        .target(
            name: "IntegraTransparency",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Sources/Transparency",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "IntegraProtocol",
            dependencies: [
                "IntegraTransparency",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Sources/Protocol",
            swiftSettings: swiftSettings
        ),
        // Files a deployment and its clients keep: secret files created and replaced safely, the
        // data directory's checks, the deployment keys and client.json.
        .target(
            name: "IntegraFiles",
            dependencies: [
                "IntegraProtocol",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Sources/Files",
            swiftSettings: swiftSettings
        ),
        // Domain types, ledger rules and the store interface. No I/O (swift-log is the logging
        // API only: the stores' shared log lines are written here, the backend decides where).
        .target(
            name: "IntegraLedger",
            dependencies: [
                "IntegraTransparency",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Ledger",
            swiftSettings: swiftSettings
        ),
        // verify: the whole-ledger check and its fast path (pages of rows in raw buffers that the
        // stores fill, per-entry hashing on all cores through BoringSSL where swift-crypto runs on it).
        .target(
            name: "IntegraVerifier",
            dependencies: [
                "IntegraLedger",
                "IntegraTransparency",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Sources/Verifier",
            swiftSettings: swiftSettings
        ),
        // The embedded SQLite store, through SQLite's C API. The product SQLiteNIO is there only
        // for the SQLite library it bundles (see Sources/Stores/SQLite/SQLiteCAPI.swift).
        .target(
            name: "IntegraSQLiteStore",
            dependencies: [
                "IntegraTransparency",
                "IntegraLedger",
                "IntegraVerifier",
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Stores/SQLite",
            swiftSettings: swiftSettings
        ),
        // MariaDB's client library, only with the MariaDB trait.
        .systemLibrary(
            name: "CMariaDB",
            path: "Sources/Stores/CMariaDB",
            pkgConfig: "libmariadb",
            providers: [.apt(["libmariadb-dev"])]
        ),
        // The MariaDB store (without the MariaDB trait only `DatabaseTLS`, which the configuration carries).
        .target(
            name: "IntegraMariaDBStore",
            dependencies: [
                "IntegraTransparency",
                "IntegraLedger",
                "IntegraVerifier",
                .target(name: "CMariaDB", condition: .when(traits: ["MariaDB"])),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Stores/MariaDB",
            swiftSettings: swiftSettings
        ),
        // Opens the store a URL names (`sqlite:PATH`, `mariadb://...`): the only target that
        // knows the concrete stores.
        .target(
            name: "IntegraStoreFactory",
            dependencies: [
                "IntegraLedger",
                "IntegraProtocol",
                "IntegraFiles",
                "IntegraSQLiteStore",
                "IntegraMariaDBStore",
            ],
            path: "Sources/Stores/Factory",
            swiftSettings: swiftSettings
        ),
        // The network server: connection loop, ledger service, group commit, bcrypt pool.
        .target(
            name: "IntegraServer",
            dependencies: [
                "IntegraTransparency",
                "IntegraWitness",
                "IntegraProtocol",
                "IntegraLedger",
                "IntegraVerifier",
                "IntegraFiles",
                "IntegraStoreFactory",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            path: "Sources/Server",
            swiftSettings: swiftSettings
        ),
        // The operator's admin listener: /metrics (Prometheus text), /health/live, /health/ready,
        // the operator's page and its /api/status. Its pure parts (status snapshot, rolling
        // windows, token check) are tested without sockets.
        .target(
            name: "IntegraAdmin",
            dependencies: [
                "IntegraServer",
                "IntegraLedger",
                "IntegraStoreFactory",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/Admin",
            resources: [.copy("Page")],
            swiftSettings: swiftSettings
        ),
        // The witness (c2sp.org/tlog-witness): cosigns a log's checkpoints only while each extends
        // the last one it cosigned, records that checkpoint before answering and keeps the
        // evidence when the log shows two histories; and `WitnessClient`, which a log pushes with.
        .target(
            name: "IntegraWitness",
            dependencies: [
                "IntegraTransparency",
                "IntegraFiles",
                "IntegraProtocol",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/Witness",
            swiftSettings: swiftSettings
        ),
        // The client library used by the CLI, the tests and the load generator.
        .target(
            name: "IntegraClient",
            dependencies: [
                "IntegraProtocol",
                "IntegraLedger",
                "IntegraFiles",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            path: "Sources/Client",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "IntegraServerCLI",
            dependencies: [
                "IntegraServer",
                "IntegraAdmin",
                "IntegraStoreFactory",
                "IntegraMariaDBStore",
                "IntegraFiles",
                "IntegraLedger",
                "IntegraVerifier",
                "IntegraProtocol",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            path: "Sources/Executables/integra-server",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "IntegraCLI",
            dependencies: [
                "IntegraClient",
                "IntegraFiles",
                "IntegraProtocol",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Sources/Executables/integra",
            swiftSettings: swiftSettings
        ),
        // `integra-witness`: init, vkey, run and status of a witness that a customer or regulator runs.
        .executableTarget(
            name: "IntegraWitnessCLI",
            dependencies: [
                "IntegraWitness",
                "IntegraFiles",
                "IntegraLedger",
                "IntegraProtocol",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/Executables/integra-witness",
            swiftSettings: swiftSettings
        ),
        // `integra-bank`: the bank workload and invariant check of scripts/fault-test.
        .executableTarget(
            name: "IntegraBank",
            dependencies: [
                "IntegraClient",
                "IntegraFiles",
                "IntegraProtocol",
                "IntegraLedger",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Sources/Tools/Bank",
            swiftSettings: swiftSettings
        ),
        // The fuzz harness: one input drives the frame parser, the message codecs, the field
        // reader, the ledger's text rules and both connection state machines (docs/FUZZING.md).
        .target(
            name: "IntegraFuzzHarness",
            dependencies: [
                "IntegraProtocol",
                "IntegraLedger",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Sources/Tools/Fuzz/Harness",
            swiftSettings: swiftSettings
        ),
        // `integra-fuzz`: the libFuzzer target when built by scripts/fuzz (-DINTEGRA_LIBFUZZER),
        // otherwise a replayer of fuzz inputs.
        .executableTarget(
            name: "IntegraFuzz",
            dependencies: ["IntegraFuzzHarness"],
            path: "Sources/Tools/Fuzz/integra-fuzz",
            swiftSettings: swiftSettings
        ),
        // The load generator's parts: workloads, server processes, statistics, JSON and plots.
        .target(
            name: "IntegraBench",
            dependencies: [
                "IntegraClient",
                "IntegraFiles",
                "IntegraProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
            ],
            path: "Sources/Bench",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "IntegraBenchCLI",
            dependencies: [
                "IntegraBench",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/Executables/integra-bench",
            swiftSettings: swiftSettings
        ),
        // `integra-ledger-fill`: fills a fresh ledger quickly, for timing `integra-server verify`
        // (scripts/verify-bench), and times the client's check of an inclusion proof on it.
        .executableTarget(
            name: "IntegraLedgerFill",
            dependencies: [
                "IntegraStoreFactory",
                "IntegraFiles",
                "IntegraLedger",
                "IntegraProtocol",
                "IntegraTransparency",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/Tools/LedgerFill",
            swiftSettings: swiftSettings
        ),
        // What the test tiers share, so that no file is copied between them: `withTestServer` (a
        // real server run as `integra-server run` runs it, always shut down and its data directory
        // removed), the stores under test, temporary directories, a manual wall clock, database
        // tampering. A library, not a test target: the tiers import it.
        .target(
            name: "IntegraTestSupport",
            dependencies: [
                "IntegraProtocol",
                "IntegraLedger",
                "IntegraVerifier",
                "IntegraSQLiteStore",
                "IntegraMariaDBStore",
                "IntegraFiles",
                "IntegraStoreFactory",
                "IntegraServer",
                "IntegraAdmin",
                "IntegraClient",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
            ],
            path: "Tests/IntegraTestSupport",
            swiftSettings: swiftSettings
        ),
        // Unit tier: pure code in memory. Codecs, state machines, the connection timers on an
        // embedded event loop, the ledger's domain, Merkle trees and signed notes, names, the
        // login throttle, the protocol and Merkle vectors, fuzz regressions, the client's files,
        // the witness's request and answer formats and its key file.
        // No socket, no store, no server.
        .testTarget(
            name: "IntegraUnitTests",
            dependencies: testTierDependencies + [
                "IntegraAdmin",
                "IntegraFiles",
                "IntegraMariaDBStore",
                "IntegraFuzzHarness",
                "IntegraWitness",
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                "IntegraBench",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Tests/IntegraUnitTests",
            swiftSettings: swiftSettings
        ),
        // Store tier: every store against the same requirements (conformance, group commit,
        // migrations from earlier schema versions), and what `verify` finds after tampering,
        // on SQLite and, with the MariaDB trait, on MariaDB (`INTEGRA_TEST_MARIADB_URL`).
        .testTarget(
            name: "IntegraStoreTests",
            dependencies: testTierDependencies + [
                "IntegraSQLiteStore",
                "IntegraMariaDBStore",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Tests/IntegraStoreTests",
            swiftSettings: swiftSettings
        ),
        // End-to-end tier: real servers over TLS and TCP on loopback, driven by the client
        // library and by raw frames: the customer's conversation, hostile input and customers,
        // attacks on a running deployment (fail closed), concurrency, TLS, shutdown, echo mode,
        // a witness cosigning a log's checkpoints over HTTP.
        .testTarget(
            name: "IntegraEndToEndTests",
            dependencies: testTierDependencies + [
                "IntegraAdmin",
                "IntegraWitness",
                .product(name: "Logging", package: "swift-log"),
                "IntegraFiles",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            path: "Tests/IntegraEndToEndTests",
            swiftSettings: swiftSettings
        ),
        // MariaDB tier, with the MariaDB trait only: what a shared, networked database adds
        // (several instances on one ledger, the database going away, the grants, TLS to the
        // database), against the servers scripts/test starts (`INTEGRA_TEST_MARIADB_URL`,
        // `INTEGRA_TEST_MARIADB_TLS_URL`, `INTEGRA_TEST_MARIADB_TLS_CA`).
        .testTarget(
            name: "IntegraMariaDBTests",
            dependencies: testTierDependencies + [
                "IntegraMariaDBStore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Tests/IntegraMariaDBTests",
            swiftSettings: swiftSettings
        ),
    ]
)
