import Foundation
import LabJSON
import Runs

/// A one-line progress bar on stderr, redrawn from a run's `progress` events.
struct ProgressBar {
    let title: String
    let width = 30

    func follow(_ log: EventLog) async {
        var subscription = log.subscribe()
        while case .events(let events) = await subscription.next() {
            for event in events where event.name == "progress" {
                guard case .object(let data)? = try? JSONValue.parse(event.data),
                    let completed = data["completed"]?.intValue, let total = data["total"]?.intValue
                else { continue }
                draw(completed: completed, total: total)
            }
        }
        FileHandle.standardError.write(Data("\n".utf8))
    }

    private func draw(completed: Int, total: Int) {
        let fraction = total > 0 ? min(1, Double(completed) / Double(total)) : 0
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        let line = "\r\(title) [\(bar)] \(completed)/\(total)"
        FileHandle.standardError.write(Data(line.utf8))
    }
}
