import LabJSON
import MicroHTTP

/// JSON responses, serialised with the direct writer (no `JSONEncoder` on the hot path).
enum JSONResponse {
    static func make(_ status: Int, _ value: JSONValue, headers: [(String, String)] = []) -> Response {
        make(status, bytes: value.serializedBytes(), headers: headers)
    }

    static func make(_ status: Int, bytes: [UInt8], headers: [(String, String)] = []) -> Response {
        Response.json(status: status, bytes: bytes, headers: headers)
    }
}
