import ArgumentParser
import LabServer

@main
struct ConcurrencyLab: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "concurrency-lab",
        abstract: "Concurrency patterns as parameterised, observable, self-verifying experiments.",
        discussion: "Serve them over HTTP (`serve`), list them (`patterns`), or run one here (`run`).",
        version: ConcurrencyLab.version,
        subcommands: [ServeCommand.self, PatternsCommand.self, RunCommand.self]
    )

    /// What `--version` prints: the release, and "(debug build)" for an unoptimised binary, whose
    /// runs carry more bookkeeping time than the release build's (the e2e tests read it to know
    /// which timing to expect; a bug report should say it).
    static var version: String {
        #if DEBUG
        "\(LabConfiguration.version) (debug build)"
        #else
        LabConfiguration.version
        #endif
    }
}
