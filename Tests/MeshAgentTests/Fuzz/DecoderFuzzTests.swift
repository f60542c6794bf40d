@testable import Consensus
@testable import EventLog
import Foundation
@testable import MeshAgent
import MeshAPI
import MeshCore
import MeshWire
import Testing

/// Seeded in-suite runs of the libFuzzer targets beside the frame one (`fuzz/*.swift`,
/// `fuzz/run.sh NAME`): a few thousand inputs mutated from each target's committed corpus
/// and the seeds made here with the encoders. Each decoder must decode or throw its typed
/// error, never crash; where an encoder exists, what decodes encodes back to the same value.
/// A failure names the seed and the input's number; the same seed makes the same inputs.
struct DecoderFuzzTests {
    static let seed: UInt64 = 0x6675_7A7A_3231
    static let iterations = 4000

    // MARK: Event log

    static func eventSeeds() throws -> [ReplicationMessage] {
        let key = SigningKeyPair(seed: [UInt8](repeating: 3, count: 32))!
        let other = SigningKeyPair(seed: [UInt8](repeating: 4, count: 32))!
        let events = try (1 ... 3).map { i in
            try Event(signing: key, seq: EventSeq(UInt64(i)), time: HybridTimestamp(milliseconds: 1_800_000_000_000 + UInt64(i), logical: UInt16(i)),
                      kind: "user.deploy", attributes: ["version": "1.\(i)", "by": "token:ci"])
        }
        return [
            .push(events), .push([]), .batch(events, more: true), .batch([events[0]], more: false),
            .digest([DigestEntry(origin: key.nodeID, marks: OriginMarks(low: EventSeq(1), high: EventSeq(3))),
                     DigestEntry(origin: other.nodeID, marks: .empty)], isReply: false),
            .ihave([EventID(events[0]), EventID(tag: 7, seq: 300)]), .graft([EventID(events[1])]), .graft([]),
            .prune([1, 0xDEAD_BEEF]), .delta([DeltaEntry(origin: key.nodeID, high: EventSeq(3))], isReply: true),
        ]
    }

    @Test func eventDecoderDecodesOrThrowsWireErrorAndRoundTrips() throws {
        let messages = try Self.eventSeeds()
        for m in messages { #expect(try ReplicationMessage.decode(kind: m.kind, body: m.encoded) == m) }
        let seeds = messages.map { [UInt8(ReplicationMessage.kinds.firstIndex(of: $0.kind)!)] + $0.encoded }
        try FuzzCorpus.writeIfAsked("event", seeds)
        var mutator = SeededMutator(seed: Self.seed, corpus: seeds + FuzzCorpus.load("event"))
        var decoded = 0, refused = RejectCounters()
        for i in 0 ..< Self.iterations {
            let input = mutator.next()
            guard let first = input.first else { continue }
            let kind = ReplicationMessage.kinds[Int(first) % ReplicationMessage.kinds.count]
            let message: ReplicationMessage
            do { message = try ReplicationMessage.decode(kind: kind, body: Array(input.dropFirst())) } catch {
                refused.record(error.reason); continue
            }
            decoded += 1
            #expect(message.encoded.count == message.encodedSize, "seed \(Self.seed) input \(i)")
            #expect(try ReplicationMessage.decode(kind: kind, body: message.encoded) == message, "seed \(Self.seed) input \(i)")
            if case let .push(events) = message { for e in events { _ = try? e.verify() } }
        }
        #expect(decoded > 0 && refused.total > 0, "decoded \(decoded), refused \(refused.total)")
    }

    // MARK: Raft

    static func raftSeeds() -> [RaftMessage] {
        let a = SigningKeyPair(seed: [UInt8](repeating: 5, count: 32))!.nodeID
        let b = SigningKeyPair(seed: [UInt8](repeating: 6, count: 32))!.nodeID
        let c = SigningKeyPair(seed: [UInt8](repeating: 7, count: 32))!.nodeID
        let commands = [
            ControlCommand(.setVar(key: "app/db", value: "10.0.0.1:5432"), requester: "token:ci", via: a),
            ControlCommand(.removeVar(key: "app/db"), requester: "local", via: a),
            ControlCommand(.createToken(name: "ci", role: .operate, hash: String(repeating: "ab", count: 32)), requester: "token:boot", via: b),
            ControlCommand(.banMember(id: c), requester: "local", via: a),
            ControlCommand(.workload(.scale(name: "web", count: 3)), requester: "local", via: b),
        ]
        var state = ControlState()
        for (i, command) in commands.enumerated() { _ = state.apply(LogEntry(term: Term(2), index: LogIndex(UInt64(i + 1)), command: command.encoded)) }
        let entries = commands.enumerated().map { LogEntry(term: Term(2), index: LogIndex(UInt64(11 + $0.offset)), command: $0.element.encoded) }
            + [LogEntry(term: Term(2), index: LogIndex(16), kind: .configuration, command: RaftConfiguration(voters: [a, b]).encoded)]
        return [
            .requestVote(RequestVote(preVote: true, term: Term(3), lastLogIndex: LogIndex(16), lastLogTerm: Term(2), transfer: false)),
            .voteResponse(VoteResponse(preVote: false, term: Term(3), granted: true)),
            .appendEntries(AppendEntries(term: Term(2), prevLogIndex: LogIndex(10), prevLogTerm: Term(2), entries: entries,
                                         leaderCommit: LogIndex(12), readRound: 4)),
            .appendEntries(AppendEntries(term: Term(2), prevLogIndex: LogIndex(16), prevLogTerm: Term(2), entries: [], leaderCommit: LogIndex(16))),
            .appendResponse(AppendResponse(term: Term(2), success: false, matchIndex: LogIndex(9), hintIndex: LogIndex(5), abstaining: true, readRound: 4)),
            .timeoutNow(Term(3)),
            .installSnapshot(InstallSnapshot(term: Term(2), index: LogIndex(5), lastTerm: Term(2),
                                             configuration: RaftConfiguration(voters: [a, b], learners: [c]),
                                             offset: 0, data: state.snapshot, done: true)),
            .snapshotResponse(SnapshotResponse(term: Term(2), index: LogIndex(5), nextOffset: 100, installed: true)),
        ]
    }

    @Test func raftDecoderDecodesOrThrowsWireErrorAndRoundTrips() throws {
        let messages = Self.raftSeeds()
        for m in messages { #expect(try RaftMessage.decode(kind: m.kind, body: m.encoded) == m) }
        let seeds = messages.map { [UInt8(RaftMessage.kinds.firstIndex(of: $0.kind)!)] + $0.encoded }
        try FuzzCorpus.writeIfAsked("raft", seeds)
        var mutator = SeededMutator(seed: Self.seed, corpus: seeds + FuzzCorpus.load("raft"))
        var decoded = 0, commands = 0, snapshots = 0, refused = RejectCounters()
        for i in 0 ..< Self.iterations {
            let input = mutator.next()
            guard let first = input.first else { continue }
            let kind = RaftMessage.kinds[Int(first) % RaftMessage.kinds.count]
            let message: RaftMessage
            do { message = try RaftMessage.decode(kind: kind, body: Array(input.dropFirst())) } catch {
                refused.record(error.reason); continue
            }
            decoded += 1
            #expect(try RaftMessage.decode(kind: kind, body: message.encoded) == message, "seed \(Self.seed) input \(i)")
            switch message {
            case let .appendEntries(m):
                for e in m.entries where e.kind == .command {
                    guard let c = try? ControlCommand.decode(e.command) else { continue }
                    commands += 1
                    #expect(try ControlCommand.decode(c.encoded) == c, "seed \(Self.seed) input \(i)")
                }
            case let .installSnapshot(m):
                guard let s = try? ControlState(snapshot: m.data) else { break }
                snapshots += 1
                #expect(try ControlState(snapshot: s.snapshot).snapshot == s.snapshot, "seed \(Self.seed) input \(i)")
            default: break
            }
        }
        #expect(decoded > 0 && commands > 0 && snapshots > 0 && refused.total > 0,
                "decoded \(decoded) (commands \(commands), snapshots \(snapshots)), refused \(refused.total)")
    }

    // MARK: Config file

    @Test func configParserGivesAConfigOrAConfigErrorNamingTheKey() throws {
        let corpus = FuzzCorpus.load("config")
        try #require(!corpus.isEmpty, "no corpus in \(FuzzCorpus.directory("config").path)")
        var mutator = SeededMutator(seed: Self.seed, corpus: corpus)
        var parsed = 0, refused = 0
        for i in 0 ..< Self.iterations {
            var config = AgentConfig.defaults(environment: ["HOME": "/home/fuzz"])
            do throws(ConfigError) {
                for (key, raw) in try ConfigLoader.fileLayer(data: Data(mutator.next()), path: "fuzz.json").sorted(by: { $0.key < $1.key }) {
                    try ConfigLoader.apply(key: key, raw: raw, source: "config file fuzz.json", to: &config)
                }
                parsed += 1
            } catch {
                refused += 1
                #expect(!error.key.isEmpty && !error.allowed.isEmpty, "seed \(Self.seed) input \(i): \(error.description)")
            }
        }
        #expect(parsed > 0 && refused > 0, "parsed \(parsed), refused \(refused)")
    }

    // MARK: API bodies

    /// Decodes `body` as a route would; a value must survive a JSON round trip. True when it decoded.
    static func apiBody<T: Codable & Equatable>(_ type: T.Type, _ body: Data, emptyAllowed: Bool = false, input: Int) -> Bool {
        let value: T?
        do throws(RequestBodyError) { value = try RequestBody.decode(T.self, from: body, emptyAllowed: emptyAllowed) } catch {
            return false
        }
        guard let value else { return true }
        let again = try? JSONDecoder().decode(T.self, from: JSONEncoder().encode(value))
        #expect(again == value, "seed \(seed) input \(input): \(value)")
        return true
    }

    @Test func apiBodiesDecodeOrAreRefusedWithTheirErrorAndRoundTrip() throws {
        let corpus = FuzzCorpus.load("api")
        try #require(!corpus.isEmpty, "no corpus in \(FuzzCorpus.directory("api").path)")
        var mutator = SeededMutator(seed: Self.seed, corpus: corpus)
        var decoded = 0, refused = 0
        for i in 0 ..< Self.iterations {
            let input = mutator.next()
            guard let first = input.first else { continue }
            let body = Data(input.dropFirst())
            // The types by first byte, as in fuzz/APIBodyFuzz.swift.
            let ok = switch first % 10 {
            case 0: Self.apiBody(JoinRequest.self, body, input: i)
            case 1: Self.apiBody(KeyRequest.self, body, input: i)
            case 2: Self.apiBody(EventSendRequest.self, body, input: i)
            case 3: Self.apiBody(VarSetRequest.self, body, input: i)
            case 4: Self.apiBody(RaftRecoverRequest.self, body, input: i)
            case 5: Self.apiBody(InstanceStartRequest.self, body, input: i)
            case 6: Self.apiBody(TokenCreateRequest.self, body, input: i)
            case 7: Self.apiBody(TokenBootstrapRequest.self, body, emptyAllowed: true, input: i)
            case 8: Self.apiBody(WorkloadSubmitRequest.self, body, input: i)
            default: Self.apiBody(WorkloadScaleRequest.self, body, input: i)
            }
            if ok { decoded += 1 } else { refused += 1 }
        }
        #expect(decoded > 0 && refused > 0, "decoded \(decoded), refused \(refused)")
        // A body past the limit is refused by size before it is parsed, naming the limit.
        let big = Data(repeating: UInt8(ascii: " "), count: AgentLimits.maxRequestBodyBytes + 1)
        #expect(throws: RequestBodyError.tooLarge(size: big.count, limit: AgentLimits.maxRequestBodyBytes)) {
            try RequestBody.decode(VarSetRequest.self, from: big, emptyAllowed: false)
        }
    }
}
