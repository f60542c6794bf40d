import Consensus
@testable import EventLog
@testable import MeshAgent
import MeshCore
import MeshWire
import Scheduler
import Testing

struct AgentEventsTests {
    @Test func oneObserverRecordsEachMembershipChange() {
        let ids = (1 ... 5).map { NodeID(w0: UInt64($0) << 56, w1: 0, w2: 0, w3: 0) }
        // Everyone alive sees the same view: exactly one of them records a change about each member.
        for subject in ids {
            let writers = ids.filter { AgentEvents.records(subject, me: $0, alive: ids) }
            #expect(writers.count == 1, "\(subject): \(writers)")
            #expect(writers.first != subject)
        }
        // The successor in id order, wrapping around; a dead subject is left out of its own count.
        #expect(AgentEvents.records(ids[1], me: ids[2], alive: ids))
        #expect(AgentEvents.records(ids[4], me: ids[0], alive: ids))
        #expect(AgentEvents.records(ids[2], me: ids[3], alive: ids.filter { $0 != ids[2] }))
        // The successor itself gone: the next one records (its own view no longer has it).
        #expect(AgentEvents.records(ids[1], me: ids[3], alive: [ids[0], ids[3], ids[4]]))
        // Alone, a node records what it sees.
        #expect(AgentEvents.records(ids[1], me: ids[0], alive: []))
    }

    @Test func rejectedFramesSummaryCountsOnlyWhatIsNewAndOnlyWhenNonZero() throws {
        #expect(AgentEvents.rejectedFrames(now: [:], previous: [:], intervalSeconds: 60) == nil)
        #expect(AgentEvents.rejectedFrames(now: ["replayed": 3], previous: ["replayed": 3], intervalSeconds: 60) == nil)
        let s = try #require(AgentEvents.rejectedFrames(now: ["replayed": 5, "undecryptable": 2, "oversized": 1],
                                                        previous: ["replayed": 3, "oversized": 1], intervalSeconds: 60))
        #expect(s.kind == "agent.frames_rejected")
        #expect(s.attributes == ["replayed": "2", "undecryptable": "2", "total": "4", "interval_s": "60"])
    }

    /// Every applied entry's event stands for the same committed entry, so a member's
    /// replica applies what the voters applied; a value too large for an event is marked
    /// incomplete (the replica installs the leader's state there instead).
    @Test func controlEventsCarryTheCommittedEntriesTheyStandFor() throws {
        let via = NodeID(w0: 7, w1: 1, w2: 2, w3: 3)
        func roundTrip(_ entry: LogEntry) throws -> CommittedEntry? {
            let command = entry.kind == .command && !entry.command.isEmpty ? try ControlCommand.decode(entry.command) : nil
            let (kind, attributes) = try #require(ControlEvents.applied(entry, command, .ok))
            let event = Event(origin: via, seq: EventSeq(1), time: HybridTimestamp(raw: 0), kind: kind, attributes: attributes, signature: [])
            return ControlEvents.committedEntry(event)
        }
        let set = LogEntry(term: Term(2), index: LogIndex(9), command: ControlCommand(.setVar(key: "a", value: "1"), requester: "local", via: via).encoded)
        #expect(try roundTrip(set) == CommittedEntry(set))
        let rm = LogEntry(term: Term(2), index: LogIndex(10), command: ControlCommand(.removeVar(key: "a"), requester: "token:abc", via: via).encoded)
        #expect(try roundTrip(rm) == CommittedEntry(rm))
        let noop = LogEntry(term: Term(3), index: LogIndex(11), command: [])
        #expect(try roundTrip(noop) == CommittedEntry(noop))
        // A configuration travels with its voters' whole keys (not its learners): a member's
        // quorum reads ask those voters.
        let voters = (1 ... 5).map { NodeID(w0: UInt64($0), w1: 9, w2: 9, w3: 9) }
        let config = LogEntry(term: Term(3), index: LogIndex(12), kind: .configuration,
                              command: RaftConfiguration(voters: voters, learners: [via]).encoded)
        let carried = try #require(try roundTrip(config))
        let decoded = try RaftConfiguration.decode(carried.entry.command)
        #expect(carried.entry.kind == .configuration && decoded.voters == voters.sorted())
        let big = LogEntry(term: Term(3), index: LogIndex(13),
                           command: ControlCommand(.setVar(key: "b", value: String(repeating: "x", count: 5000)), requester: "local", via: via).encoded)
        let cut = try #require(try roundTrip(big))
        #expect(!cut.complete && cut.entry.index == LogIndex(13))
        let hash = String(repeating: "e", count: 64)
        for (i, op) in [ControlCommand.Operation.bootstrapToken(name: "root", hash: hash),
                        .createToken(name: "ci", role: .operate, hash: hash), .revokeToken(name: "ci"),
                        .banMember(id: NodeID(w0: 5, w1: 6, w2: 7, w3: 8))].enumerated() {
            let token = LogEntry(term: Term(3), index: LogIndex(14 + UInt64(i)), command: ControlCommand(op, requester: "token:root", via: via).encoded)
            #expect(try roundTrip(token) == CommittedEntry(token), "\(op)")
        }
    }
}

/// Workload commands travel in their `control.workload.*` events whole (base64), so a
/// member that is not a voter applies the same placements; one too large is incomplete.
struct WorkloadEventsTests {
    @Test func workloadEventsCarryTheirCommandsOrSayTheyDoNot() throws {
        let via = NodeID(w0: 7, w1: 1, w2: 2, w3: 3)
        func roundTrip(_ c: WorkloadCommand, index: UInt64) throws -> (String, [String: String], CommittedEntry?) {
            let command = ControlCommand(.workload(c), requester: "local", via: via)
            let entry = LogEntry(term: Term(2), index: LogIndex(index), command: command.encoded)
            let (kind, attributes) = try #require(ControlEvents.applied(entry, command, .ok))
            let event = Event(origin: via, seq: EventSeq(1), time: HybridTimestamp(raw: 0), kind: kind, attributes: attributes, signature: [])
            try Event.validate(kind: kind, attributes: attributes)
            return (kind, attributes, ControlEvents.committedEntry(event))
        }
        let spec = WorkloadSpec(name: "web", command: ["sleep", "1000"], count: 3)
        let (kind, attributes, entry) = try roundTrip(.submit(spec), index: 5)
        #expect(kind == "control.workload.submitted" && attributes["workload"] == "web")
        #expect(entry?.complete == true)
        #expect(try ControlCommand.decode(try #require(entry).entry.command).operation == .workload(.submit(spec)))
        let plan = PlanCommand(basedOn: LogIndex(5), at: MeshTime(nanoseconds: 1),
                               places: [.init(slot: InstanceSlot("web", 0), node: via)],
                               stops: [.init(placement: PlacementID(1), reason: "web.1 on n2: surplus after the partition healed")])
        let (planKind, planAttributes, planEntry) = try roundTrip(.applyPlan(plan), index: 6)
        #expect(planKind == "control.workload.plan" && planEntry?.complete == true)
        #expect(planAttributes["stopped"]?.contains("surplus") == true)
        var huge = spec
        huge.command = ["sleep"] + Array(repeating: String(repeating: "y", count: 200), count: 10)
        let (_, hugeAttributes, hugeEntry) = try roundTrip(.submit(huge), index: 7)
        #expect(hugeEntry?.complete == false && hugeAttributes["command_bytes"] != nil)
    }
}

/// The leader's control state reaches a member with the configuration it is at, so the
/// member's quorum reads go on after the install; an older agent's reply has none.
struct ControlStateReplyTests {
    @Test func theConfigurationIsOptionalAtTheEnd() throws {
        let voters = (1 ... 3).map { NodeID(w0: UInt64($0), w1: 0, w2: 0, w3: 0) }
        let with = ControlStateReply(requestID: 4, index: 90, state: [1, 2, 3], error: "", configuration: .init(index: 80, voters: voters))
        #expect(try ControlStateReply.decode(with.encoded) == with)
        let without = ControlStateReply(requestID: 4, index: 90, state: [1, 2, 3], error: "")
        #expect(try ControlStateReply.decode(without.encoded) == without)
        #expect(throws: WireError.self) { try ControlStateReply.decode(with.encoded + [0]) }
    }
}
