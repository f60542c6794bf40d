@testable import Consensus
import MeshCore
import Testing

/// `propose(batch:)`: several commands in one log write and one AppendEntries per follower.
struct GroupCommitTests {
    @Test func aBatchIsOneWriteAndOneMessagePerFollowerAndCommitsInOrder() throws {
        var c = RaftCluster(size: 3, seed: 11)
        c.advance(by: .seconds(2))
        let leader = try #require(c.leader)
        c.advance(by: .milliseconds(100))          // the leader's no-op is everywhere
        let commands: [[UInt8]] = (0 ..< 20).map { [UInt8($0)] }
        guard case let .success((indexes, term, ready)) = c.nodes[leader]!.propose(batch: commands, now: c.now) else {
            Issue.record("refused"); return
        }
        #expect(indexes.count == 20)
        #expect(zip(indexes, indexes.dropFirst()).allSatisfy { $0.1 == $0.0.next })
        #expect(ready.entries.map(\.command) == commands)
        let appends = ready.messages.compactMap { m -> AppendEntries? in if case let .appendEntries(a) = m.message { a } else { nil } }
        #expect(appends.count == 2)                 // one per follower, all 20 entries in each
        #expect(appends.allSatisfy { $0.entries.map(\.command) == commands })
        for (i, cmd) in zip(indexes, commands) { c.waiting[leader]!.append((i, term, cmd)) }
        c.execute(leader, ready)
        c.advance(by: .milliseconds(100))
        for i in c.ids { #expect(c.applied[i]!.filter { !$0.command.isEmpty }.map(\.command) == commands, "node \(i)") }
        #expect(c.acknowledged.count == 20)
        #expect(c.violations.isEmpty)
    }

    @Test func aBatchBeyondTheUncommittedLimitIsCutAndAFollowerRefusesIt() throws {
        var settings = RaftSettings.lan
        settings.maxUncommittedEntries = 5
        var c = RaftCluster(size: 3, seed: 12, settings: settings)
        c.advance(by: .seconds(2))
        let leader = try #require(c.leader)
        c.advance(by: .milliseconds(100))
        let commands: [[UInt8]] = (0 ..< 8).map { [UInt8($0)] }
        guard case let .success((indexes, _, _)) = c.nodes[leader]!.propose(batch: commands, now: c.now) else {
            Issue.record("refused"); return
        }
        #expect(indexes.count == 5)                 // the other three are the caller's to refuse
        guard case .failure(.tooManyUncommitted(limit: 5)) = c.nodes[leader]!.propose(batch: [[9]], now: c.now) else {
            Issue.record("accepted past the limit"); return
        }
        let follower = try #require(c.ids.first { $0 != leader })
        guard case .failure(.notLeader) = c.nodes[follower]!.propose(batch: [[9]], now: c.now) else {
            Issue.record("a follower accepted a proposal"); return
        }
    }
}
