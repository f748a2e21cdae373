import MicroHTTP
import Testing
import TestSupport

@Suite("Connection limits: sized from the open-file limit, refused with an answer past them")
struct ConnectionLimitTests {
    @Test func noLimitGiven_fillsTheDescriptorsButTheReserve_andStreamsTakeNineTenths() {
        let budget = ConnectionBudget(connectionLimit: nil, maxStreams: nil, descriptors: DescriptorLimit(soft: 20_000, hard: 20_000))
        #expect(budget.connectionLimit == 20_000 - DescriptorLimit.reserve)
        #expect(budget.maxStreams == budget.connectionLimit - budget.connectionLimit / 10)
        #expect(budget.warnings.isEmpty)
    }

    @Test func aHugeDescriptorLimit_isCappedByTheDefaultCeiling() {
        let budget = ConnectionBudget(connectionLimit: nil, maxStreams: nil, descriptors: DescriptorLimit(soft: 1_048_576, hard: 1_048_576))
        #expect(budget.connectionLimit == ConnectionBudget.defaultConnectionCeiling)
    }

    @Test func aLimitAboveTheDescriptors_isLoweredAndSaysSo() {
        let budget = ConnectionBudget(connectionLimit: 4_096, maxStreams: 2_000, descriptors: DescriptorLimit(soft: 1_024, hard: 1_024))
        #expect(budget.connectionLimit == 1_024 - DescriptorLimit.reserve)
        #expect(budget.maxStreams == budget.connectionLimit)
        #expect(budget.warnings.count == 2)
        #expect(budget.warnings.first?.contains("connection limit 4096 does not fit") == true)
    }

    @Test func aTinyDescriptorLimit_keepsHalfForTheProcess() {
        let budget = ConnectionBudget(connectionLimit: nil, maxStreams: nil, descriptors: DescriptorLimit(soft: 300, hard: 300))
        #expect(budget.connectionLimit == 150)
    }

    @Test func aLimitThatFits_isKeptAsGiven() {
        let budget = ConnectionBudget(connectionLimit: 100, maxStreams: 10, descriptors: DescriptorLimit(soft: 20_000, hard: 20_000))
        #expect(budget.connectionLimit == 100 && budget.maxStreams == 10 && budget.warnings.isEmpty)
    }

    @Test func pastTheConnectionLimit_aNewConnectionIsAnswered503AndClosed() async throws {
        try await withServer({ $0.connectionLimit = 2 }, handler: TestHandler(immediate: { _ in .text("ok") })) { server in
            let first = try HTTPTestClient(port: server.port)
            let second = try HTTPTestClient(port: server.port)
            #expect(try await first.request("GET", "/a").status == 200)
            #expect(try await second.request("GET", "/b").status == 200)

            let third = try HTTPTestClient(port: server.port)
            let refused = try await third.readResponse()
            #expect(refused.status == 503)
            #expect(refused.header("Retry-After") == "1")
            #expect(refused.header("Content-Type") == "text/plain; charset=utf-8")
            #expect(refused.text == "503 Service Unavailable: The server is at its limit of open connections; retry shortly.\n")
            #expect(refused.closesConnection)
            #expect(server.stats.connectionRejections == 1)
            #expect(server.stats.openConnections == 2)

            // The held connections are still served; once one leaves, a new one gets in.
            #expect(try await first.request("GET", "/c").status == 200)
            first.close()
            try await waitUntil("the first connection is closed") { server.stats.openConnections == 1 }
            let fourth = try HTTPTestClient(port: server.port)
            #expect(try await fourth.request("GET", "/d").status == 200)
        }
    }
}
