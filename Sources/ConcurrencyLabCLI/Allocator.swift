#if canImport(CMimalloc)
import CMimalloc
#endif

/// The process's allocator: mimalloc, linked in place of glibc's malloc (Package.swift,
/// `CMimalloc`), with one option set before any work starts.
enum Allocator {
    /// How long mimalloc keeps freed pages committed before returning them to the system. Its
    /// default, 25 ms, is shorter than a run: each 10,000-task gather faulted in about 4,200
    /// pages again, and with 1 s 3,100 (2.6 % less wall time, median of 16 paired runs). The
    /// cost is memory that stays resident for up to a second after a large run ends.
    static let decommitDelayMs = 1_000

    /// Sets the options; returns what the start-up log says of the allocator.
    static func configure() -> String {
        #if canImport(CMimalloc)
        mi_option_set(mi_option_decommit_delay, decommitDelayMs)
        let version = Int(mi_version())
        return "mimalloc \(version / 100).\(version / 10 % 10).\(version % 10), decommit delay \(mi_option_get(mi_option_decommit_delay)) ms"
        #else
        return "the system's malloc"
        #endif
    }
}
