import ArgumentParser

@main
struct ConcurrencyLab: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "concurrency-lab",
        abstract: "Concurrency patterns as observable, self-verifying experiments."
    )
}
