/// Decoding of what clients percent-encode: paths, query strings and
/// `application/x-www-form-urlencoded` bodies.
///
/// The two decoders differ on purpose. A path segment is strict: an invalid escape (`%G1`, a
/// truncated `%4`) or bytes that are not UTF-8 make it nil, so a router answers 400 rather than
/// guessing. Form data follows the WHATWG urlencoded parser, which browsers use: `+` is a space
/// and a malformed escape is kept literally, so one odd field never loses the whole form.
public enum FormCoding {
    /// `value` with every `%XX` decoded; nil when an escape is malformed or the result is not
    /// UTF-8. `+` stays `+` (it means space only in form data).
    public static func percentDecoded(_ value: String) -> String? {
        decode(Array(value.utf8), plusAsSpace: false, strict: true)
    }

    /// The fields of a query string or urlencoded body, in order, names and values decoded
    /// (`+` as space). Empty pieces (`a=1&&b=2`) are skipped; a piece without `=` has an empty
    /// value.
    public static func fields(_ encoded: String) -> [(String, String)] {
        fields(Array(encoded.utf8))
    }

    /// The fields of an urlencoded body given as bytes (a request body).
    public static func fields(_ encoded: [UInt8]) -> [(String, String)] {
        encoded.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true).map { piece in
            let bytes = Array(piece)
            guard let equals = bytes.firstIndex(of: UInt8(ascii: "=")) else {
                return (lenient(bytes), "")
            }
            return (lenient(Array(bytes[..<equals])), lenient(Array(bytes[(equals + 1)...])))
        }
    }

    private static func lenient(_ bytes: [UInt8]) -> String {
        decode(bytes, plusAsSpace: true, strict: false) ?? ""
    }

    /// Decodes `%XX` escapes. Strict mode rejects malformed escapes and invalid UTF-8; lenient
    /// mode keeps a malformed escape as it is and repairs invalid UTF-8 with U+FFFD.
    private static func decode(_ bytes: [UInt8], plusAsSpace: Bool, strict: Bool) -> String? {
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%") {
                if index + 2 < bytes.count, let high = hexValue(bytes[index + 1]),
                   let low = hexValue(bytes[index + 2]) {
                    output.append(high << 4 | low)
                    index += 3
                    continue
                }
                if strict { return nil }
            }
            output.append(plusAsSpace && byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
            index += 1
        }
        return strict ? String(validating: output, as: UTF8.self) : String(decoding: output, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
