import Runs

/// The templates of the resources the API links to. The route table serves them and links are
/// made from them, so a URL is spelled in one place.
public enum ResourcePaths {
    static let run = PathTemplate("/runs/{id}")
    static let runEvents = PathTemplate("/runs/{id}/events")
    static let runTrace = PathTemplate("/runs/{id}/trace")

    /// The links of every run the API shows: itself, its event stream and its trace.
    public static let runLinks = RunLinks { id in
        ["self": run.path(["id": id]), "events": runEvents.path(["id": id]), "trace": runTrace.path(["id": id])]
    }
}
