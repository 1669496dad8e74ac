// swift-tools-version: 6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "Integra",
    // Linux only: the stores, the secret files and the verifier call Glibc and BoringSSL directly.
    products: [
        .executable(name: "integra-server", targets: ["IntegraServerCLI"]),
        .executable(name: "integra", targets: ["IntegraCLI"]),
        .executable(name: "integra-bench", targets: ["IntegraBenchCLI"]),
        .library(name: "IntegraClient", targets: ["IntegraClient"]),
        .executable(name: "integra-bank", targets: ["IntegraBank"]),
        .executable(name: "integra-ledger-fill", targets: ["IntegraLedgerFill"]),
        .executable(name: "integra-fuzz", targets: ["IntegraFuzz"]),
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
    ],
    targets: [
        // Wire format, keys and the pure connection state machines. No I/O.
        .target(
            name: "IntegraProtocol",
            dependencies: [
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
        // Domain types, ledger rules and the store interface. No I/O.
        .target(
            name: "IntegraLedger",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Sources/Ledger",
            swiftSettings: swiftSettings
        ),
        // The embedded SQLite store.
        .target(
            name: "IntegraSQLiteStore",
            dependencies: [
                "IntegraLedger",
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
                "IntegraLedger",
                .target(name: "CMariaDB", condition: .when(traits: ["MariaDB"])),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
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
                "IntegraProtocol",
                "IntegraLedger",
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
        // (scripts/verify-bench).
        .executableTarget(
            name: "IntegraLedgerFill",
            dependencies: [
                "IntegraStoreFactory",
                "IntegraFiles",
                "IntegraLedger",
                "IntegraProtocol",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/Tools/LedgerFill",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "IntegraTests",
            dependencies: [
                "IntegraProtocol",
                "IntegraLedger",
                "IntegraSQLiteStore",
                "IntegraMariaDBStore",
                "IntegraFiles",
                "IntegraStoreFactory",
                "IntegraServer",
                "IntegraAdmin",
                "IntegraClient",
                "IntegraFuzzHarness",
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                "IntegraBench",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            path: "Tests/IntegraTests",
            swiftSettings: swiftSettings
        ),
    ]
)
