import ArgumentParser

@main
struct ConcurrencyLab: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "concurrency-lab",
        abstract: "Concurrency patterns as parameterised, observable, self-verifying experiments.",
        discussion: "Serve them over HTTP (`serve`), list them (`patterns`), or run one here (`run`).",
        subcommands: [ServeCommand.self, PatternsCommand.self, RunCommand.self]
    )
}
