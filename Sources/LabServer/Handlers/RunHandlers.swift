import LabJSON
import MicroHTTP
import Patterns
import Runs

/// The run routes: launch, read, long-poll, list, cancel. Each reads: parse -> validate ->
/// call the registry -> encode.
struct RunHandlers: Sendable {
    let registry: RunRegistry
    let configuration: LabConfiguration
    let streams: EventStreamHandler

    /// Waits are cut this much short of the request deadline, so a long poll answers 202
    /// (still running) instead of running into the server's timeout.
    private var waitCeiling: Duration {
        min(configuration.maxWait, configuration.server.requestTimeout - .seconds(1))
    }

    func launch(_ request: Request, pattern: String) async throws(LabError) -> Response {
        let wantsStream = Self.accepts(request, "text/event-stream")
        let wait = try WaitParameter.parse(request, maxWait: configuration.maxWait)
        let pace = try PaceParameter.parse(request)
        let parameters = try RunInputDecoder.parameters(of: request)
        let live: LiveRun
        do {
            live = try await registry.launch(pattern: pattern, parameters: parameters)
        } catch {
            throw .runs(error)
        }
        let location = [("Location", ResourcePaths.run.path(["id": live.id]))]
        if wantsStream {
            await registry.waitUntilVisible(live)
            let virtual = live.parameters.clockMode == .virtual
            return try streams.stream(live.log, after: 0, pace: virtual ? pace : nil, status: 201, extraHeaders: location)
        }
        guard let wait else {
            // With several instances, `Location` must work on any of them when the answer arrives.
            await registry.waitUntilVisible(live)
            return JSONResponse.make(201, bytes: live.snapshotJSON(), headers: location)
        }
        let ended = await live.finished.wait(timeout: min(wait, waitCeiling))
        await registry.waitUntilVisible(live)
        return JSONResponse.make(ended ? 200 : 202, bytes: live.snapshotJSON(), headers: location)
    }

    func run(_ request: Request, id: String) async throws(LabError) -> Response {
        let wait = try WaitParameter.parse(request, maxWait: configuration.maxWait)
        if let wait, let live = await registry.live(id: id) {
            _ = await live.finished.wait(timeout: min(wait, waitCeiling))
            return JSONResponse.make(200, bytes: live.snapshotJSON())
        }
        do {
            // Another instance's run is waited on through the store's notifications.
            let record =
                if let wait { try await registry.waitForEnd(id: id, timeout: min(wait, waitCeiling)) } else {
                    try await registry.record(id: id)
                }
            return JSONResponse.make(200, record.json(links: registry.links))
        } catch {
            throw .runs(error)
        }
    }

    /// The ended run in the Chrome Trace Event format (`ChromeTrace`), from its record and its
    /// event log (in memory, or read back from the store).
    func trace(id: String) async throws(LabError) -> Response {
        let record: RunRecord
        do {
            record = try await registry.record(id: id)
        } catch {
            throw .runs(error)
        }
        guard record.status.isTerminal else { throw .runNotEnded(id: id, status: record.status.rawValue) }
        let log: EventLog
        do {
            log = try await registry.eventLog(id: id)
        } catch {
            throw .runs(error)
        }
        // The record is final a moment before `run.finished` is appended: wait for it.
        await log.waitUntilFinished()
        let counters = registry.catalog.pattern(named: record.pattern)?.counters ?? []
        let trace = ChromeTrace(record: record, events: log.allEvents, counters: counters)
        return JSONResponse.make(200, bytes: trace.serializedBytes())
    }

    func list(_ request: Request) async throws(LabError) -> Response {
        let query = try Self.runQuery(request)
        let page: RunPage
        do {
            page = try await registry.list(query)
        } catch {
            throw .runs(error)
        }
        let cursor = page.nextCursor.map { JSONValue.string(RunCursor(after: $0, of: query).encoded) }
        return JSONResponse.make(
            200, ["runs": .array(page.runs.map { $0.json(summary: true, links: registry.links) }), "next_cursor": cursor ?? .null])
    }

    func cancel(id: String) async throws(LabError) -> Response {
        do {
            return JSONResponse.make(202, try await registry.cancel(id: id).json(links: registry.links))
        } catch {
            throw .runs(error)
        }
    }

    /// The listing a request asks for: its filters and limit, continued from its cursor when it
    /// has one (the cursor's filters apply; one given beside it must agree).
    static func runQuery(_ request: Request) throws(LabError) -> RunQuery {
        var query = RunQuery()
        var seen: Set<String> = []
        var cursor: RunCursor?
        for (name, value) in request.queryFields {
            guard seen.insert(name).inserted else {
                throw .badRequest("query parameter '\(name)' is given more than once", field: name)
            }
            switch name {
            case "pattern": query.pattern = value
            case "status":
                guard let status = RunStatus(rawValue: value) else {
                    let accepted = RunStatus.allCases.map(\.rawValue).joined(separator: ", ")
                    throw .badRequest("status must be one of \(accepted)", field: "status")
                }
                query.status = status
            case "limit":
                guard let limit = Int(value), (1...500).contains(limit) else {
                    throw .badRequest("limit must be an integer from 1 to 500", field: "limit")
                }
                query.limit = limit
            case "cursor": cursor = try RunCursor(decoding: value)
            default:
                throw .badRequest("unknown query parameter '\(name)'; accepted: pattern, status, limit, cursor", field: name)
            }
        }
        return try cursor?.continuing(query, given: seen) ?? query
    }

    static func accepts(_ request: Request, _ mediaType: String) -> Bool {
        request.header("Accept")?.lowercased().contains(mediaType) ?? false
    }
}
