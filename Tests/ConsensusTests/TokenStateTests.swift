@testable import Consensus
import MeshCore
import MeshWire
import Testing

/// API tokens in the replicated control state: hashes only, one bootstrap, roles, revocation.
struct TokenStateTests {
    let via = NodeID(w0: 1, w1: 0, w2: 0, w3: 0)
    let hashA = String(repeating: "a", count: 64), hashB = String(repeating: "b", count: 64)

    func entry(_ index: UInt64, _ op: ControlCommand.Operation) -> LogEntry {
        LogEntry(term: Term(1), index: LogIndex(index), command: ControlCommand(op, requester: "test", via: via).encoded)
    }

    @Test func theFirstAdminTokenIsMintedOnceAndTokensAreCreatedAndRevoked() {
        var s = ControlState()
        #expect(s.apply(entry(1, .bootstrapToken(name: "root", hash: hashA))) == .ok)
        #expect(s.token(hash: hashA)?.role == .admin)
        #expect(s.apply(entry(2, .bootstrapToken(name: "again", hash: hashB))) == .refused("the mesh has tokens already; ask an admin for one"))
        #expect(s.apply(entry(3, .createToken(name: "ci", role: .operate, hash: hashB))) == .ok)
        #expect(s.token(hash: hashB) == TokenEntry(name: "ci", role: .operate, hash: hashB, index: LogIndex(3)))
        #expect(s.apply(entry(4, .createToken(name: "ci", role: .read, hash: String(repeating: "c", count: 64)))) != .ok, "names are unique")
        #expect(s.apply(entry(5, .createToken(name: "other", role: .read, hash: hashB))) == .refused("that secret is in use"))
        #expect(s.apply(entry(6, .revokeToken(name: "ci"))) == .ok)
        #expect(s.token(hash: hashB) == nil)
        #expect(s.apply(entry(7, .revokeToken(name: "ci"))) == .refused("no token named ci"))
    }

    @Test func badNamesAndHashesAreRefusedBeforeTheLog() {
        #expect(ControlState.validate(.createToken(name: "a b", role: .read, hash: hashA)) != nil)
        #expect(ControlState.validate(.createToken(name: "ok", role: .read, hash: "xyz")) != nil)
        #expect(ControlState.validate(.createToken(name: "ok", role: .read, hash: hashA.uppercased())) != nil)
        #expect(ControlState.validate(.bootstrapToken(name: String(repeating: "n", count: 65), hash: hashA)) != nil)
        #expect(ControlState.validate(.createToken(name: "ok", role: .read, hash: hashA)) == nil)
    }

    @Test func commandsAndSnapshotsCarryTokensAndAnOlderSnapshotStillReads() throws {
        for op: ControlCommand.Operation in [.createToken(name: "t", role: .admin, hash: hashA), .bootstrapToken(name: "b", hash: hashB),
                                             .revokeToken(name: "t")] {
            #expect(try ControlCommand.decode(ControlCommand(op, requester: "r", via: via).encoded).operation == op)
        }
        var s = ControlState()
        _ = s.apply(entry(1, .setVar(key: "k", value: "v")))
        let withoutTokens = s.snapshot
        _ = s.apply(entry(2, .bootstrapToken(name: "root", hash: hashA)))
        _ = s.apply(entry(3, .createToken(name: "r", role: .read, hash: hashB)))
        #expect(try ControlState(snapshot: s.snapshot) == s)
        let old = try ControlState(snapshot: withoutTokens)
        #expect(old.tokens.isEmpty && old.vars["k"]?.value == "v", "a snapshot made before tokens existed")
    }

    @Test func aBanIsKeptOnceAndTravelsInSnapshots() throws {
        let thief = NodeID(w0: 9, w1: 9, w2: 9, w3: 9)
        var s = ControlState()
        #expect(s.apply(entry(1, .banMember(id: thief))) == .ok)
        #expect(s.banned[thief] == LogIndex(1))
        #expect(s.apply(entry(2, .banMember(id: thief))) == .refused("\(thief) is banned already"))
        #expect(try ControlState(snapshot: s.snapshot).banned == s.banned)
        #expect(try ControlCommand.decode(ControlCommand(.banMember(id: thief), requester: "r", via: via).encoded).operation == .banMember(id: thief))
    }

    @Test func rolesAreOrdered() {
        #expect(TokenRole.read < .operate && TokenRole.operate < .admin)
        #expect(TokenRole.admin >= .read)
    }

    @Test func aSecretHashesToTheFormTheStateKeeps() {
        let secret = TokenSecret.generate()
        #expect(secret.hasPrefix("mtk_") && secret.count == 4 + 64)
        #expect(ControlState.validate(.createToken(name: "x", role: .read, hash: TokenSecret.hash(secret))) == nil)
        #expect(TokenSecret.hash(secret) == TokenSecret.hash(secret) && TokenSecret.hash(secret) != TokenSecret.hash(secret + "x"))
    }
}
