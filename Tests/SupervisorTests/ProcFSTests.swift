@testable import Supervisor
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct ProcFSTests {
    @Test func parsesStatWithAwkwardCommandNames() {
        let text = "1234 (my (weird) cmd) S 1 1234 1234 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 987654 1000 200 18446744073709551615"
        let facts = ProcFS.parseStat(Array(text.utf8))
        #expect(facts == ProcessFacts(state: UInt8(ascii: "S"), processGroup: 1234, startTime: 987654))
        #expect(ProcFS.parseStat(Array("garbage".utf8)) == nil)
        #expect(ProcFS.parseStat(Array("1 (x) S 1 2".utf8)) == nil)
    }

    @Test func parsesBootTime() {
        let text = "cpu  1 2 3 4\nintr 5 6\nctxt 77\nbtime 1764230400\nprocesses 9\n"
        #expect(ProcFS.parseBootTime(Array(text.utf8)) == 1_764_230_400)
        #expect(ProcFS.parseBootTime(Array("cpu 1 2\n".utf8)) == nil)
        #expect(ProcFS.wallMilliseconds(startTicks: 0) == nil)
    }

    @Test func readsOwnProcess() {
        let me = ProcFS.facts(pid: getpid())
        #expect(me != nil)
        #expect(ProcFS.isAlive(pid: getpid(), startTime: me!.startTime))
        #expect(!ProcFS.isAlive(pid: getpid(), startTime: me!.startTime + 1))
    }
}
