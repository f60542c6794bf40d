@testable import Consensus
import MeshCore
import MeshWire
import Testing

struct MembershipChangeTests {
    @Test func aLearnerCatchesUpIsPromotedAndADeadVoterIsReplaced() {
        var c = RaftCluster(size: 4, seed: 21)   // nodes 1-4; start with voters 1-3 only
        for i in c.ids {
            c.nodes[i] = RaftNode(id: rid(i), voters: [1, 2, 3].map(rid), settings: .lan, random: SeededRandom(seed: UInt64(i)), now: c.now)
        }
        c.advance(by: .seconds(2))
        for k in 0 ..< 20 { _ = c.propose([UInt8(k)]) }
        c.advance(by: .milliseconds(200))
        let leader = c.leader!
        // Node 4 joins as a learner and receives the whole log without voting.
        var r = c.nodes[leader]!.proposeConfiguration(RaftConfiguration(voters: [1, 2, 3].map(rid), learners: [rid(4)]), now: c.now)
        guard case let .success((_, _, ready)) = r else { Issue.record("\(r)"); return }
        c.execute(leader, ready)
        c.advance(by: .milliseconds(300))
        #expect(c.nodes[4]!.log.count == c.nodes[leader]!.log.count)
        #expect(c.nodes[4]!.configuration.learners == [rid(4)])
        // A voter dies: replace it by the learner, one server at a time.
        let dead = [1, 2, 3].first { $0 != leader }!
        c.crash(dead)
        let without = [1, 2, 3].filter { $0 != dead }.map(rid)
        r = c.nodes[leader]!.proposeConfiguration(RaftConfiguration(voters: without, learners: [rid(4)]), now: c.now)
        guard case let .success((_, _, ready2)) = r else { Issue.record("\(r)"); return }
        c.execute(leader, ready2)
        // A second change is refused until the first commits.
        let early = c.nodes[leader]!.proposeConfiguration(RaftConfiguration(voters: without + [rid(4)]), now: c.now)
        if case .failure(.configurationPending) = early {} else { Issue.record("accepted a second pending change: \(early)") }
        c.advance(by: .milliseconds(200))
        r = c.nodes[leader]!.proposeConfiguration(RaftConfiguration(voters: without + [rid(4)]), now: c.now)
        guard case let .success((_, _, ready3)) = r else { Issue.record("\(r)"); return }
        c.execute(leader, ready3)
        c.advance(by: .milliseconds(200))
        #expect(Set(c.nodes[leader]!.voters) == Set(without + [rid(4)]))
        // The new voter set survives the loss of the old leader: 2 of 3 remain.
        c.crash(leader)
        c.advance(by: .seconds(3))
        let next = try! #require(c.leader)
        #expect(next != leader && next != dead)
        let ok = c.propose([200])
        #expect(ok)
        c.advance(by: .milliseconds(200))
        #expect(c.violations.isEmpty)
        #expect(c.acknowledged.contains { $0.2 == [200] })
    }

    @Test func twoVotersCannotBeSwappedAtOnce() {
        var n = RaftNode(id: rid(1), voters: [rid(1)], settings: .lan, random: SeededRandom(seed: 1), now: .zero)
        _ = n.tick(now: n.nextWakeup)
        let r = n.proposeConfiguration(RaftConfiguration(voters: [rid(2), rid(3)]), now: .zero)
        #expect(r.isFailure(.notSingleServerChange))
    }

    @Test func leadershipTransferHandsOverWithoutAnElectionTimeout() {
        var c = RaftCluster(size: 3, seed: 22)
        c.advance(by: .seconds(2))
        let old = c.leader!
        let target = c.ids.first { $0 != old }!
        let start = c.now
        guard case let .success(ready) = c.nodes[old]!.transferLeadership(to: rid(target), now: c.now) else { Issue.record("refused"); return }
        c.execute(old, ready)
        #expect(c.nodes[old]!.propose([1], now: c.now).isFailure(.transferring(to: rid(target))))
        while c.leader != target, c.now - start < .seconds(1) { c.advance(by: .milliseconds(5)) }
        #expect(c.leader == target)
        #expect(c.now - start < RaftSettings.lan.electionTimeout)
        #expect(c.violations.isEmpty)
    }

    @Test func raftMessagesRoundTrip() throws {
        let entries = [LogEntry(term: Term(2), index: LogIndex(5), command: [1, 2]),
                       LogEntry(term: Term(2), index: LogIndex(6), kind: .configuration, command: RaftConfiguration(voters: [rid(1)]).encoded)]
        let samples: [RaftMessage] = [
            .requestVote(RequestVote(preVote: true, term: Term(3), lastLogIndex: LogIndex(9), lastLogTerm: Term(2), transfer: true)),
            .voteResponse(VoteResponse(preVote: false, term: Term(3), granted: true)),
            .appendEntries(AppendEntries(term: Term(2), prevLogIndex: LogIndex(4), prevLogTerm: Term(1), entries: entries, leaderCommit: LogIndex(4))),
            .appendResponse(AppendResponse(term: Term(2), success: false, matchIndex: .zero, hintIndex: LogIndex(3))),
            .timeoutNow(Term(7)),
        ]
        for m in samples { #expect(try RaftMessage.decode(kind: m.kind, body: m.encoded) == m) }
        // Entries out of sequence are refused by the codec.
        let bad = RaftMessage.appendEntries(AppendEntries(term: Term(2), prevLogIndex: LogIndex(1), prevLogTerm: Term(1), entries: entries, leaderCommit: .zero))
        #expect(throws: WireError.self) { try RaftMessage.decode(kind: bad.kind, body: bad.encoded) }
    }
}

extension Result where Failure == RaftError {
    func isFailure(_ e: RaftError) -> Bool { if case let .failure(f) = self { f == e } else { false } }
}
