import MicroHTTP
import Testing

@Suite("FormCoding: percent-decoding of paths, queries and forms")
struct FormCodingTests {
    @Test(arguments: [
        ("/runs/a%20b", "/runs/a b"),
        ("%2F%2f", "//"),
        ("caf%C3%A9", "café"),
        ("a+b", "a+b"),
        ("plain", "plain"),
        ("", ""),
    ])
    func percentDecoded_decodesValidEscapes(encoded: String, decoded: String) {
        #expect(FormCoding.percentDecoded(encoded) == decoded)
    }

    @Test(arguments: ["%", "%4", "abc%G1", "%zz", "%C3", "%FF%FE"])
    func percentDecoded_rejectsMalformedEscapesAndInvalidUTF8(encoded: String) {
        #expect(FormCoding.percentDecoded(encoded) == nil)
    }

    @Test func fields_decodePlusAsSpace_keepOrderAndRepeats() {
        let fields = FormCoding.fields("count=10&name=a+b%21&count=20&flag&=empty&&x=%")
        #expect(fields.map(\.0) == ["count", "name", "count", "flag", "", "x"])
        #expect(fields.map(\.1) == ["10", "a b!", "20", "", "empty", "%"])
    }

    @Test func fields_ofABody_matchFieldsOfTheSameText() {
        let body = Array("limit=3&delay_ms=200".utf8)
        #expect(FormCoding.fields(body).map(\.1) == ["3", "200"])
        #expect(FormCoding.fields("").isEmpty)
    }

    @Test func request_exposesDecodedQueryFields_andCaseInsensitiveHeaders() {
        let request = Request(
            id: "r1", method: "GET", path: "/p", query: "a=1&b=x+y",
            headers: ["Content-Type": "text/plain", "X-Multi": "1", "x-multi": "2"], received: .now
        )
        #expect(request.queryFields.map(\.1) == ["1", "x y"])
        #expect(request.header("content-type") == "text/plain")
        #expect(request.headers.values(for: "X-MULTI") == ["1", "2"])
        #expect(request.header("Missing") == nil)
    }
}

@Suite("Response constructors")
struct ResponseTests {
    /// MicroHTTP decides a refusal's status and protocol fields; whoever renders it decides the
    /// body (plain text by default: MicroHTTP writes no JSON).
    @Test func refusal_hasItsStatusAndProtocolFields_andTheRenderedBody() {
        let rendered = Refusal.shuttingDown.response(path: "/runs") { refusal, path in
            RefusalBody(contentType: "application/x-test", bytes: Array("\(refusal.status) at \(path ?? "-")".utf8))
        }
        #expect(rendered.status == 503)
        #expect(rendered.header("Content-Type") == "application/x-test")
        #expect(rendered.header("Retry-After") == "1")
        #expect(rendered.header("Connection") == "close")
        guard case .bytes(let body) = rendered.body else {
            Issue.record("a refusal has a byte body")
            return
        }
        #expect(String(decoding: body, as: UTF8.self) == "503 at /runs")
        let plain = Refusal.bodyTooLarge(limit: 10).response(path: "/x", render: RefusalBody.plainText)
        #expect(plain.status == 413)
        #expect(plain.header("Content-Type") == "text/plain; charset=utf-8")
        #expect(plain.header("Retry-After") == nil)
        guard case .bytes(let text) = plain.body else { return }
        #expect(String(decoding: text, as: UTF8.self) == "413 Content Too Large: The request body exceeds the limit of 10 bytes.\n")
    }

    @Test func jsonAndText_setTheirContentTypes() {
        #expect(Response.json(bytes: Array("{}".utf8)).header("Content-Type") == "application/json")
        #expect(Response.text("hi").header("Content-Type") == "text/plain; charset=utf-8")
        #expect(Response.stream(contentType: "text/event-stream") { _ in }.isStream)
    }
}
