@testable import Consensus
import MeshCore
import MeshWire
import Testing

/// Quorum reads: a majority of the voters of the replica's configuration, agreeing on it,
/// give an index at or past every write committed before the read began.
struct QuorumReadTests {
    func answer(_ config: UInt64, last: UInt64, snapshot: Bool = false, answering: Bool = true) -> QuorumReadAnswer {
        QuorumReadAnswer(answering: answering, configurationIndex: LogIndex(config), configurationInSnapshot: snapshot, lastIndex: LogIndex(last))
    }

    @Test func aMajorityThatAgreesGivesTheHighestLastIndex() {
        var t = QuorumReadTally(voters: [1, 2, 3, 4, 5].map(rid), configurationIndex: LogIndex(7), appliedIndex: LogIndex(20))
        #expect(t.majority == 3)
        #expect(t.offer(answer(7, last: 21), from: rid(1)) == .waiting)
        #expect(t.offer(answer(7, last: 30), from: rid(1)) == .waiting)          // a duplicate counts once
        #expect(t.offer(answer(7, last: 25), from: rid(9)) == .waiting)          // not a voter: ignored
        #expect(t.offer(answer(7, last: 23), from: rid(2)) == .waiting)
        #expect(t.offer(answer(7, last: 22), from: rid(3)) == .readIndex(LogIndex(23)))
        #expect(t.offer(answer(7, last: 99), from: rid(4)) == .waiting)          // decided once
    }

    @Test func votersOnAnotherConfigurationOrSilentOnesDoNotCount() {
        var t = QuorumReadTally(voters: [1, 2, 3].map(rid), configurationIndex: LogIndex(7), appliedIndex: LogIndex(20))
        #expect(t.offer(answer(9, last: 30), from: rid(1)) == .waiting)          // a newer configuration
        #expect(t.offer(answer(7, last: 30, answering: false), from: rid(2)) == .impossible)   // reset storage
        var u = QuorumReadTally(voters: [1, 2, 3].map(rid), configurationIndex: LogIndex(7), appliedIndex: LogIndex(20))
        #expect(u.offer(answer(5, last: 30), from: rid(1)) == .waiting)          // an older one
        #expect(u.offer(answer(7, last: 21), from: rid(2)) == .waiting)
        #expect(u.offer(answer(7, last: 20), from: rid(3)) == .readIndex(LogIndex(21)))
    }

    @Test func aConfigurationFromASnapshotAgreesOnlyWhenTheReplicaIsPastTheSnapshot() {
        let t = QuorumReadTally(voters: [1, 2, 3].map(rid), configurationIndex: LogIndex(7), appliedIndex: LogIndex(20))
        #expect(t.agrees(answer(15, last: 30, snapshot: true)))     // the newest up to 15 is the replica's, at 7
        #expect(t.agrees(answer(20, last: 30, snapshot: true)))
        #expect(!t.agrees(answer(21, last: 30, snapshot: true)))    // past the replica: a newer one may be in it
        #expect(!t.agrees(answer(6, last: 30, snapshot: true)))     // before the replica's configuration
        #expect(!t.agrees(answer(15, last: 30)))                    // an entry at 15 is another configuration
    }

    @Test func theAnswerRoundTrips() throws {
        let a = answer(12, last: 40, snapshot: true)
        var w = ByteWriter()
        a.encode(into: &w)
        var r = ByteReader(w.bytes)
        #expect(try QuorumReadAnswer.decode(from: &r) == a)
        var short = ByteReader(Array(w.bytes.dropLast()))
        #expect(throws: WireError.self) { try QuorumReadAnswer.decode(from: &short) }
    }

    @Test func aReplicaKnowsTheVotersOfItsNewestConfigurationUntilAnInstall() {
        var r = ControlReplica(now: .zero)
        #expect(r.configuration == nil)
        let config = CommittedEntry(LogEntry(term: Term(1), index: LogIndex(1), kind: .configuration,
                                             command: RaftConfiguration(voters: [rid(2), rid(1)], learners: [rid(3)]).encoded))
        _ = r.offer([config], now: .zero)
        #expect(r.configuration?.index == LogIndex(1) && r.configuration?.voters == [rid(1), rid(2)])
        // The event form of a configuration without the voters' keys cannot be decoded: unknown.
        _ = r.offer([CommittedEntry(LogEntry(term: Term(1), index: LogIndex(2), kind: .configuration, command: []))], now: .zero)
        #expect(r.configuration == nil)
        _ = r.offer([config.with(index: 3)], now: .zero)
        #expect(r.configuration?.index == LogIndex(3))
        let installed = r.install(ControlState(), at: LogIndex(9), now: .zero)
        #expect(installed && r.configuration == nil)
    }

    /// Two voters cut off while the voter set moved on by four single changes still agree
    /// with a reader whose replica is as old as they are; the newer configuration one of
    /// them holds keeps them from making a majority that misses the newest writes.
    @Test func votersLeftBehindByTwoChangesCannotAnswerAStaleReader() throws {
        var c = RaftCluster(size: 6, seed: 5, voters: [1, 2, 3])
        c.advance(by: .seconds(2))
        let leader = try #require(c.leader)
        let (a, b) = ([1, 2, 3].filter { $0 != leader }[0], [1, 2, 3].filter { $0 != leader }[1])
        func change(_ voters: [Int]) throws {
            let config = RaftConfiguration(voters: voters.map(rid), learners: c.ids.filter { !voters.contains($0) }.map(rid))
            guard case let .success((_, _, ready)) = c.nodes[leader]!.proposeConfiguration(config, now: c.now) else {
                Issue.record("refused \(voters)"); return
            }
            c.execute(leader, ready)
            c.advance(by: .milliseconds(300))
        }
        try change([1, 2, 3])                       // the configuration entry the reader's replica holds
        let stale = try #require(c.nodes[leader]!.log.last { $0.kind == .configuration }).index
        let staleApplied = c.nodes[leader]!.commitIndex
        c.groups[a] = 1
        try change([1, 2, 3, 4])                    // committed by the leader, b and 4
        c.groups[b] = 1
        try change([leader, b, 4])
        try change([leader, b, 4, 5])
        try change([leader, 4, 5])
        let proposed = c.propose([42])
        #expect(proposed)
        c.advance(by: .milliseconds(300))
        let written = c.nodes[leader]!.commitIndex
        #expect(c.acknowledged.contains { $0.2 == [42] } && c.nodes[leader]!.voters == [leader, 4, 5].sorted().map(rid))
        // The reader, cut off with a and b, asks the voters of its replica's configuration.
        var t = QuorumReadTally(voters: [1, 2, 3].map(rid), configurationIndex: stale, appliedIndex: staleApplied)
        #expect(QuorumReadAnswer(c.nodes[a]!).answering && QuorumReadAnswer(c.nodes[b]!).answering)
        let first = t.offer(QuorumReadAnswer(c.nodes[a]!), from: rid(a))
        let second = t.offer(QuorumReadAnswer(c.nodes[b]!), from: rid(b))
        #expect(first == .waiting && second == .waiting, "a read index before \(written)")
        #expect(c.violations.isEmpty)
    }

    /// Random runs of a 6-node cluster (voters changing one at a time among them), with
    /// crashes, partitions and loss; reads start at random moments from a replica a few
    /// entries behind, ask the voters of its newest configuration, and hear them after
    /// random delays. Every read index must be at or past everything any node knew
    /// committed when the read began.
    @Test(arguments: 1 ... 8 as ClosedRange<UInt64>)
    func readsUnderChurnSeeEveryEarlierCommit(seed: UInt64) {
        var c = RaftCluster(size: 6, seed: seed, voters: [1, 2, 3])
        c.loss = 0.05
        var rng = SeededRandom(seed: seed &* 7919)
        struct Read { var tally: QuorumReadTally; let committedAtStart: LogIndex; let group: Int; var decided = false }
        var reads: [Read] = []
        var answers: [(at: MeshTime, read: Int, voter: Int)] = []
        var decided = 0, configChanges = 0
        var configurationsRead: Set<LogIndex> = []
        c.advance(by: .seconds(1))
        for step in 0 ..< 2_500 {
            c.advance(by: .milliseconds(Int64(1 + rng.next() % 5)))
            for a in answers where a.at <= c.now {
                guard !reads[a.read].decided, !c.crashed.contains(a.voter),
                      c.groups[a.voter, default: 0] == reads[a.read].group else { continue }
                switch reads[a.read].tally.offer(QuorumReadAnswer(c.nodes[a.voter]!), from: rid(a.voter)) {
                case .waiting: break
                case .impossible: reads[a.read].decided = true
                case let .readIndex(index):
                    reads[a.read].decided = true
                    decided += 1
                    if index < reads[a.read].committedAtStart {
                        c.violations.append("seed \(seed) step \(step): read index \(index) before \(reads[a.read].committedAtStart), committed when it began")
                    }
                }
            }
            answers.removeAll { $0.at <= c.now }
            let roll = rng.next() % 100
            if roll < 30 {
                _ = c.propose([UInt8(step % 251)])
            } else if roll < 32, let leader = c.leader, !c.nodes[leader]!.configurationPending {
                // One voter added or removed (never the leader), the rest learners.
                let voters = c.nodes[leader]!.voters.map { c.index($0) }
                var next = voters
                if voters.count > 3 {
                    next.removeAll { $0 == voters.filter { $0 != leader }.randomElement(using: &rng) }
                } else if let add = c.ids.filter({ !voters.contains($0) }).randomElement(using: &rng) {
                    next.append(add)
                }
                let config = RaftConfiguration(voters: next.map(rid), learners: c.ids.filter { !next.contains($0) }.map(rid))
                if case let .success((_, _, ready)) = c.nodes[leader]!.proposeConfiguration(config, now: c.now) {
                    c.execute(leader, ready)
                    configChanges += 1
                }
            } else if roll < 35 {
                let i = c.ids.randomElement(using: &rng)!
                if c.crashed.contains(i) { c.restart(i) } else if c.crashed.count < 2 { c.crash(i) }
            } else if roll < 37 {
                for i in c.ids { c.groups[i] = rng.next() % 4 == 0 ? 1 : 0 }
            } else if roll < 39 {
                c.groups = [:]
            } else if roll < 55, let longest = c.applied.values.max(by: { $0.count < $1.count }) {
                // A reader whose replica applied the committed log up to some entries back.
                // Mostly a few entries behind, sometimes hundreds (several configurations back).
                let behind = rng.next() % 4 == 0 ? Int(rng.next() % 300) : Int(rng.next() % 8)
                let upTo = max(0, longest.count - behind)
                guard let config = longest.prefix(upTo).last(where: { $0.kind == .configuration }),
                      let voters = try? RaftConfiguration.decode(config.command).voters else { continue }
                configurationsRead.insert(config.index)
                let committed = c.nodes.values.map(\.commitIndex).max()!
                reads.append(Read(tally: QuorumReadTally(voters: voters, configurationIndex: config.index,
                                                         appliedIndex: longest[upTo - 1].index),
                                  committedAtStart: committed, group: rng.next() % 4 == 0 ? 1 : 0))
                for v in voters {
                    answers.append((c.now + .microseconds(Int64(200 + rng.next() % 5_000)), reads.count - 1, c.index(v)))
                }
            }
        }
        #expect(c.violations.isEmpty, "\(c.violations.prefix(3))")
        // The runs exercised what they claim to.
        #expect(decided > 25 && configChanges > 2 && configurationsRead.count > 3,
                "decided \(decided), changes \(configChanges), configurations read from \(configurationsRead.count)")
    }
}

extension CommittedEntry {
    func with(index: UInt64) -> CommittedEntry {
        var e = self
        e.entry = LogEntry(term: entry.term, index: LogIndex(index), kind: entry.kind, command: entry.command)
        return e
    }
}
