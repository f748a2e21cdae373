import PostgresNIO

/// Statements whose rows nobody wants are still read to the end: postgres-nio applies back
/// pressure to an unread result, and the next statement on the connection (a `COMMIT`) would
/// wait behind it.
extension PostgresConnection {
    func execute(_ query: PostgresQuery, logger: Logger) async throws {
        for try await _ in try await self.query(query, logger: logger) {}
    }
}

extension PostgresClient {
    func execute(_ query: PostgresQuery) async throws {
        for try await _ in try await self.query(query) {}
    }
}
