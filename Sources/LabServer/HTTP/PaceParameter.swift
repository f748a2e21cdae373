import MicroHTTP

/// `?pace=FACTOR` on an event stream (`GET /runs/{id}/events`, or a launch that streams):
/// play a virtual run's events at `FACTOR` times the pace they happened (1: as they happened
/// in the run's time; 0.1: ten times faster). Absent: as fast as the client reads. A real
/// run's events come as they happen already, and a pace is ignored for them: pacing a live
/// real run slower than it goes would only make its stream fall behind.
///
/// A stream parameter, not a run parameter: how fast one viewer watches says nothing about
/// the experiment (whose record is the same either way), two viewers may watch one run at
/// two speeds, and a finished run can be replayed at any pace later. Bounded so that no
/// stream is held open for longer than ten times the run's simulated time. A bad value is
/// a 400 naming `pace`.
enum PaceParameter {
    static let range: ClosedRange<Double> = 0.001...10

    static func parse(_ request: Request) throws(LabError) -> Double? {
        let values = request.queryFields.filter { $0.0 == "pace" }.map(\.1)
        guard values.count <= 1 else { throw .badRequest("pace is given more than once", field: "pace") }
        guard let text = values.first else { return nil }
        guard let pace = Double(text), pace.isFinite, range.contains(pace) else {
            throw .badRequest(
                "pace must be a number from \(range.lowerBound) to \(Int(range.upperBound)) (1: as the run's clock ran; 0.1: ten times faster)",
                field: "pace")
        }
        return pace
    }
}
