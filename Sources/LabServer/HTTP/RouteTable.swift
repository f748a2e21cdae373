/// A path template such as `/runs/{id}/events`, matched segment by segment.
public struct PathTemplate: Sendable, Hashable, CustomStringConvertible {
    enum Segment: Sendable, Hashable {
        case literal(String)
        case parameter(String)
    }

    let segments: [Segment]
    public let description: String

    public init(_ template: String) {
        description = template
        segments = template.split(separator: "/").map { part in
            part.hasPrefix("{") && part.hasSuffix("}") ? .parameter(String(part.dropFirst().dropLast())) : .literal(String(part))
        }
    }

    /// The path with each `{name}` replaced by `parameters[name]` (an id the server made, so
    /// nothing to escape): how links are made from the templates the routes are served at.
    public func path(_ parameters: [String: String]) -> String {
        "/" + segments.map { segment in
            switch segment {
            case .literal(let literal): literal
            case .parameter(let name): parameters[name] ?? ""
            }
        }.joined(separator: "/")
    }

    /// True when the template has no parameter.
    var isLiteral: Bool {
        segments.allSatisfy { if case .literal = $0 { true } else { false } }
    }

    /// The parameters when `pathSegments` match, nil otherwise.
    func match(_ pathSegments: [Substring]) -> [String: String]? {
        guard pathSegments.count == segments.count else { return nil }
        var parameters: [String: String] = [:]
        for (segment, part) in zip(segments, pathSegments) {
            switch segment {
            case .literal(let literal): guard part == literal else { return nil }
            case .parameter(let name): parameters[name] = String(part)
            }
        }
        return parameters
    }
}

/// The routes: the one table that says what this server answers. Matching tells a path
/// nobody serves (404) from a method the path does not allow (405 with `Allow`); `OPTIONS` is
/// answered for every path from the methods its routes have.
public struct RouteTable<Handler: Sendable>: Sendable {
    /// A class, so that a match hands over one reference rather than copying (and retaining)
    /// the method, the template's segments and its text on every request.
    public final class Route: Sendable {
        public let method: String
        public let template: PathTemplate
        public let handler: Handler
        /// Its place in `routes`: what a caller indexes its own per-route state by.
        public let index: Int

        init(method: String, template: PathTemplate, handler: Handler, index: Int) {
            self.method = method
            self.template = template
            self.handler = handler
            self.index = index
        }
    }

    public enum Match {
        case found(Route, parameters: [String: String])
        case methodNotAllowed(allowed: [String])
        case notFound
    }

    public private(set) var routes: [Route] = []
    /// Routes whose template has no parameter, by their exact path: the common requests
    /// (`/healthz`, `/runs`, `/patterns`) are found by one lookup, without splitting the path.
    private var literalRoutes: [String: [Route]] = [:]

    public init() {}

    public mutating func add(_ method: String, _ template: String, _ handler: Handler) {
        add(method, PathTemplate(template), handler)
    }

    public mutating func add(_ method: String, _ template: PathTemplate, _ handler: Handler) {
        let route = Route(method: method, template: template, handler: handler, index: routes.count)
        routes.append(route)
        let text = template.description
        if template.isLiteral, text == "/" + text.split(separator: "/").joined(separator: "/") {
            literalRoutes[text, default: []].append(route)
        }
    }

    public func match(method: String, path: String) -> Match {
        if let candidates = literalRoutes[path],
           let route = candidates.first(where: { $0.method == method || (method == "HEAD" && $0.method == "GET") }) {
            return .found(route, parameters: [:])
        }
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        var allowed: [String] = []
        for route in routes {
            guard let parameters = route.template.match(segments) else { continue }
            if route.method == method || (method == "HEAD" && route.method == "GET") {
                return .found(route, parameters: parameters)
            }
            allowed.append(route.method)
        }
        if allowed.isEmpty { return .notFound }
        return .methodNotAllowed(allowed: Self.withImplied(allowed))
    }

    /// The template serving `path` and every method it answers (HEAD where GET is, and OPTIONS,
    /// which every path answers): what `OPTIONS` and a CORS preflight need, from the same table
    /// that routes, so no path needs a route of its own for them. nil when no route serves it.
    public func methods(at path: String) -> (template: PathTemplate, methods: [String])? {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        var template: PathTemplate?
        var methods: [String] = []
        for route in routes where route.template.match(segments) != nil {
            template = template ?? route.template
            methods.append(route.method)
        }
        return template.map { ($0, Self.withImplied(methods)) }
    }

    private static func withImplied(_ methods: [String]) -> [String] {
        var methods = methods
        if methods.contains("GET") { methods.append("HEAD") }
        methods.append("OPTIONS")
        return methods
    }
}
