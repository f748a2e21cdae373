#if canImport(Glibc)
import Glibc
#endif

/// The calling thread's name as the kernel holds it (what `top -H` and `perf` show).
public func currentThreadName() -> String? {
    threadName(at: "/proc/thread-self/comm")
}

/// The names of every thread of this process.
public func processThreadNames() -> [String] {
    guard let directory = opendir("/proc/self/task") else { return [] }
    defer { closedir(directory) }
    var names: [String] = []
    while let entry = readdir(directory) {
        let tid = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard tid.first?.isNumber == true, let name = threadName(at: "/proc/self/task/\(tid)/comm") else { continue }
        names.append(name)
    }
    return names
}

/// A `comm` file's content without its newline.
private func threadName(at path: String) -> String? {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { return nil }
    defer { close(descriptor) }
    var bytes = [UInt8](repeating: 0, count: 32)
    let count = read(descriptor, &bytes, bytes.count)
    guard count > 0 else { return nil }
    let end = bytes[count - 1] == UInt8(ascii: "\n") ? count - 1 : count
    return String(decoding: bytes[..<end], as: UTF8.self)
}
