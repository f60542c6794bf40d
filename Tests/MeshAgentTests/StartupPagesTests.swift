@testable import MeshAgent
import Testing

@Suite struct StartupPagesTests {
    static let exe = "/opt/mesh/bin/meshd"
    static func mapping(_ range: String, _ perms: String, _ path: String, anonymous: Int = 0, dirty: Int = 0) -> String {
        """
        \(range) \(perms) 00000000 fe:00 123 \(path)
        Size:               1024 kB
        Rss:                 512 kB
        Private_Dirty:     \(dirty) kB
        Anonymous:         \(anonymous) kB
        Swap:                  0 kB
        VmFlags: rd ex mr mw me

        """
    }

    @Test func releasesOnlyTheExecutablesCleanReadOnlyMappings() {
        let smaps = [
            Self.mapping("1000-2000", "r--p", Self.exe),                          // constants: released
            Self.mapping("2000-5000", "r-xp", Self.exe),                          // code: released
            Self.mapping("5000-6000", "r--p", Self.exe, anonymous: 8, dirty: 8),  // relocated (RELRO): kept
            Self.mapping("6000-7000", "rw-p", Self.exe),                          // data: kept
            Self.mapping("7000-8000", "r-xp", "/usr/lib/libc.so.6"),             // another file: kept
            Self.mapping("8000-9000", "rw-p", ""),                               // heap: kept
        ].joined()
        let ranges = StartupPages.releasable(smaps: smaps, executable: Self.exe)
        #expect(ranges == [.init(start: 0x1000, end: 0x2000), .init(start: 0x2000, end: 0x5000)])
    }

    @Test func aWrittenPageKeepsTheWholeMapping() {
        let smaps = Self.mapping("2000-5000", "r-xp", Self.exe, anonymous: 4, dirty: 4)
        #expect(StartupPages.releasable(smaps: smaps, executable: Self.exe).isEmpty)
        // Dirty in the page cache only (a binary copied a moment ago): nothing to lose.
        let copied = Self.mapping("2000-5000", "r-xp", Self.exe, dirty: 4)
        #expect(StartupPages.releasable(smaps: copied, executable: Self.exe) == [.init(start: 0x2000, end: 0x5000)])
    }

    @Test func releasingInThisProcessLeavesItRunning() {
        // The test runner's own code and constants: released, then run again.
        let released = StartupPages.release()
        #expect(released > 0)
        // Still running its code: the released pages came back as they were needed.
        #expect(StartupPages.releasable(smaps: Self.mapping("1000-2000", "r-xp", Self.exe), executable: Self.exe).count == 1)
    }
}
