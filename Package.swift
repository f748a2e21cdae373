// swift-tools-version: 6.2
import PackageDescription

// Warnings are errors in every target of ours: a warning today is a bug tomorrow.
let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .unsafeFlags(["-warnings-as-errors"]),
]

let package = Package(
    name: "concurrency-lab",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "concurrency-lab", targets: ["ConcurrencyLabCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", exact: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", exact: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", exact: "2.4.1"),
        .package(url: "https://github.com/apple/swift-collections.git", exact: "1.6.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", exact: "7.10.0"),
        // debounce and throttle for the debounce-throttle pattern, used as they are (not rewritten).
        .package(url: "https://github.com/apple/swift-async-algorithms.git", exact: "1.1.4"),
        .package(url: "https://github.com/vapor/postgres-nio.git", exact: "1.33.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CMicroHTTPD",
            pkgConfig: "libmicrohttpd",
            providers: [.apt(["libmicrohttpd-dev"])]
        ),
        // mimalloc in place of glibc's malloc for the whole process (the executable links it):
        // a run of 10,000 tasks makes about 85,000 allocations, freed on other threads than
        // made them, and glibc's arenas spent a fifth of the server's CPU on them.
        .systemLibrary(
            name: "CMimalloc",
            providers: [.apt(["libmimalloc-dev"])]
        ),
        // Routes the global-executor jobs a virtual run's thread enqueues to the run's executor
        // (see the header): Patterns' virtual time only, for libraries that start unstructured tasks.
        .target(name: "CConcurrencyHooks"),
        // The JSON value, its parser and its writer: the one JSON writer of the project, at the
        // bottom of the graph (it imports nothing of ours).
        .target(name: "LabJSON", swiftSettings: strict),
        .target(
            name: "MicroHTTP",
            dependencies: [
                "CMicroHTTPD",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "Patterns",
            dependencies: [
                "CConcurrencyHooks",
                "LabJSON",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "Runs",
            dependencies: [
                "LabJSON",
                "Patterns",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "GRDB", package: "GRDB.swift"),
                // SQLite's C API, for binding a finished run's events straight from their bytes.
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The PostgreSQL store and what instances share through it, in a module of its own so
        // that NIO and postgres-nio are linked by the executable and its tests only, and Runs and
        // LabServer build without waiting for them.
        .target(
            name: "PostgresStore",
            dependencies: [
                "LabJSON",
                "Patterns",
                "Runs",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "LabServer",
            dependencies: [
                "LabJSON",
                "MicroHTTP",
                "Runs",
                "Patterns",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "ConcurrencyLabCLI",
            dependencies: [
                "LabJSON",
                "LabServer",
                "MicroHTTP",
                "Patterns",
                "PostgresStore",
                "Runs",
                .target(name: "CMimalloc", condition: .when(platforms: [.linux])),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // Benchmarks/MicroHTTPBench: the MicroHTTP fast path against Benchmarks/reference/hello.c.
        .executableTarget(
            name: "MicroHTTPBench",
            dependencies: ["MicroHTTP", .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/MicroHTTPBench",
            swiftSettings: strict
        ),
        .target(
            name: "TestSupport",
            dependencies: ["LabJSON", "Patterns"],
            path: "Tests/Support",
            swiftSettings: strict
        ),
        .testTarget(name: "LabJSONTests", dependencies: ["LabJSON"], swiftSettings: strict),
        .testTarget(
            name: "MicroHTTPTests",
            dependencies: ["MicroHTTP", "TestSupport", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .testTarget(name: "PatternsTests", dependencies: ["LabJSON", "Patterns", "TestSupport"], swiftSettings: strict),
        // RunsTests holds the store conformance suite, run against every store, PostgreSQL's too.
        .testTarget(
            name: "RunsTests",
            dependencies: [
                "LabJSON", "Runs", "Patterns", "PostgresStore", "TestSupport",
                .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "PostgresStoreTests",
            dependencies: [
                "LabJSON", "Runs", "Patterns", "PostgresStore", "TestSupport", .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "LabServerTests",
            dependencies: ["LabJSON", "LabServer", "MicroHTTP", "Runs", "Patterns", "TestSupport"],
            swiftSettings: strict
        ),
    ]
)
