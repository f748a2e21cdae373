// Raw Swift peer for `make bench`: the same experiments as the service's patterns, with no
// HTTP, no recorder and no events, built with `swiftc -O` (Benchmarks/run.py does it).
//   raw gather N DELAY_MS          task group collecting N results in order
//   raw gather-discard N           discarding task group of N zero-delay tasks (peak RSS)
//   raw gather-discard-sleep0 N    the same, each task awaiting Task.sleep(0) as the service's
//                                  delay_ms=0 tasks do (so they are all alive at once)
//   raw semaphore N LIMIT DELAY_MS N tasks, at most LIMIT inside an async semaphore
// Prints one JSON line: {"wall_ms": ..., "maxrss_kb": ...}
import Foundation

actor AsyncSemaphore {
    private var permits: Int
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private var head = 0
    init(_ permits: Int) { self.permits = permits }
    func acquire() async {
        if permits > 0 { permits -= 1; return }
        await withCheckedContinuation { waiters.append($0) }
    }
    func release() {
        if head < waiters.count {
            let w = waiters[head]; head += 1
            w.resume()
        } else { permits += 1 }
    }
}

func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

let args = CommandLine.arguments
let mode = args[1]
let n = Int(args[2])!
let start = now()
switch mode {
case "gather":
    let delay = UInt64(args[3])! * 1_000_000
    let results = await withTaskGroup(of: (Int, Int).self) { group in
        for i in 0..<n {
            group.addTask { try? await Task.sleep(nanoseconds: delay); return (i, i) }
        }
        var out = [Int](repeating: 0, count: n)
        for await (i, v) in group { out[i] = v }
        return out
    }
    precondition(results.count == n)
case "gather-discard":
    await withDiscardingTaskGroup { group in
        for _ in 0..<n { group.addTask { } }
    }
case "semaphore":
    let limit = Int(args[3])!
    let delay = UInt64(args[4])! * 1_000_000
    let sem = AsyncSemaphore(limit)
    await withTaskGroup(of: Void.self) { group in
        for _ in 0..<n {
            group.addTask {
                await sem.acquire()
                try? await Task.sleep(nanoseconds: delay)
                await sem.release()
            }
        }
    }
case "gather-discard-sleep0":
    await withDiscardingTaskGroup { group in
        for _ in 0..<n { group.addTask { try? await Task.sleep(for: .zero) } }
    }
default:
    fatalError("unknown mode \(mode)")
}
let wall = Double(now() - start) / 1e6
var usage = rusage()
getrusage(RUSAGE_SELF.rawValue, &usage)
print("{\"wall_ms\": \(wall), \"maxrss_kb\": \(usage.ru_maxrss)}")
