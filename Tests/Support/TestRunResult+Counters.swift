import LabJSON
import Patterns

extension TestRunResult {
    /// Every value `counter` took, in the order the run's events carried them (the step
    /// function a viewer rebuilds from the events).
    public func counterValues(_ counter: String) -> [Int] {
        events.compactMap { $0.data[counter]?.intValue }
    }

    /// The counter's value at `ms` of run time: the last one carried by an event at or before it.
    public func counter(_ counter: String, at ms: Double) -> Int? {
        events.last { event in
            event.data[counter]?.intValue != nil && (event.data["t_ms"]?.doubleValue ?? .infinity) <= ms
        }?.data[counter]?.intValue
    }
}
