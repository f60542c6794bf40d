@testable import MeshAgent
import Testing

@Suite struct HTTPDateTests {
    @Test func formatsTheRFCExample() {
        // RFC 9110 §5.6.7's own example.
        #expect(HTTPDate.format(secondsSinceEpoch: 784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
    }

    @Test func padsAndNamesEveryField() {
        #expect(HTTPDate.format(secondsSinceEpoch: 0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        // 2026-12-31 23:59:59 UTC, a Thursday.
        #expect(HTTPDate.format(secondsSinceEpoch: 1_798_761_599) == "Thu, 31 Dec 2026 23:59:59 GMT")
    }
}
