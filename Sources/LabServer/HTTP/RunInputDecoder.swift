import Foundation
import LabJSON
import MicroHTTP
import Patterns

/// Reads a run's parameters from a request: a JSON object body, form fields, or query
/// parameters (all three may combine; the body wins over the query for the same name).
///
/// A JSON object sent with curl's default form content type is read as JSON, as users of
/// `curl -d '{...}'` mean it. Control parameters (`wait`, and a stream's `pace`) are not run
/// parameters.
public enum RunInputDecoder {
    static let controlParameters: Set<String> = ["wait", "pace"]

    public static func parameters(of request: Request) throws(LabError) -> [String: RawParameter] {
        var raw: [String: RawParameter] = [:]
        for (name, value) in request.queryFields where !controlParameters.contains(name) {
            guard raw.updateValue(.text(value), forKey: name) == nil else {
                throw .badRequest("query parameter '\(name)' is given more than once", field: name)
            }
        }
        for (name, value) in try bodyParameters(of: request) { raw[name] = value }
        return raw
    }

    static func bodyParameters(of request: Request) throws(LabError) -> [String: RawParameter] {
        let body = request.body
        guard !body.isEmpty, !body.allSatisfy(isWhitespace) else { return [:] }
        let mediaType = request.header("Content-Type").map(Self.mediaType) ?? ""
        switch mediaType {
        case "application/json", "":
            return try jsonObject(body)
        case "application/x-www-form-urlencoded":
            if let first = body.first(where: { !isWhitespace($0) }), first == UInt8(ascii: "{") {
                return try jsonObject(body)
            }
            return try formFields(body)
        default:
            if mediaType.hasSuffix("+json") { return try jsonObject(body) }
            throw .unsupportedMediaType(
                "a request body in '\(mediaType)' is not read; send application/json or application/x-www-form-urlencoded")
        }
    }

    static func jsonObject(_ body: [UInt8]) throws(LabError) -> [String: RawParameter] {
        let value: JSONValue
        do {
            value = try JSONValue.parse(body)
        } catch {
            throw .badRequest("malformed JSON: \(error)")
        }
        guard case .object(let members) = value else {
            throw .badRequest("the body must be a JSON object of parameters, like {\"count\": 10}")
        }
        return members.mapValues(RawParameter.json)
    }

    /// Form fields; a field given more than once is a list (`delays_ms=1&delays_ms=2`, as
    /// OpenAPI's form encoding of arrays sends it) and reads as `1,2`. A repeated field of a
    /// non-list parameter then fails its validation with a 422 naming it.
    static func formFields(_ body: [UInt8]) throws(LabError) -> [String: RawParameter] {
        guard String(validating: body, as: UTF8.self) != nil else { throw .badRequest("form body is not valid UTF-8") }
        var values: [String: [String]] = [:]
        for (name, value) in FormCoding.fields(body) { values[name, default: []].append(value) }
        return values.mapValues { .text($0.joined(separator: ",")) }
    }

    /// `application/json; charset=utf-8` -> `application/json`.
    static func mediaType(_ header: String) -> String {
        let utf8 = header.utf8
        let end = utf8.firstIndex(of: UInt8(ascii: ";")) ?? utf8.endIndex
        let type = utf8[..<end].drop { $0 == 0x20 || $0 == 0x09 }
        let trimmed = type.reversed().drop { $0 == 0x20 || $0 == 0x09 }.count
        return String(decoding: type.prefix(trimmed), as: UTF8.self).lowercased()
    }

    static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }
}
