@testable import PostgresStore
import Testing

/// The writer's group commit: the next commit starts as long after the last one's start as that
/// one took, within `minBatchSpacing...batchInterval`. Idle, a live event waits a few
/// milliseconds (a follower on another instance sees it soon); loaded, commits that take longer
/// space the next ones out, so batches grow instead of transactions multiplying.
@Suite struct BatchSpacingTests {
    let options = PostgresRunStore.Options()

    @Test func quickCommits_areFollowedAfterTheMinimumSpacing() {
        #expect(options.spacing(afterCommitOf: .zero) == .milliseconds(5))
        #expect(options.spacing(afterCommitOf: .microseconds(800)) == .milliseconds(5))
    }

    @Test func slowerCommits_spaceTheNextOneAsLongAsTheyTook() {
        #expect(options.spacing(afterCommitOf: .milliseconds(12)) == .milliseconds(12))
    }

    @Test func theSpacingNeverPassesTheBatchInterval() {
        #expect(options.spacing(afterCommitOf: .seconds(3)) == .milliseconds(50))
        let coarse = PostgresRunStore.Options(batchInterval: .milliseconds(20), minBatchSpacing: .milliseconds(40))
        #expect(coarse.minBatchSpacing == .milliseconds(20))
        #expect(coarse.spacing(afterCommitOf: .zero) == .milliseconds(20))
    }
}
