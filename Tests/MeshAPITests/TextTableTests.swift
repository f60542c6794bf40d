import MeshClient
import Testing

struct TextTableTests {
    @Test func columnsAreAlignedWithNoTrailingSpaces() {
        var t = TextTable(["name", "status"])
        t.add(["pi-1", "alive"])
        t.add(["a-much-longer-name", "dead"])
        #expect(t.rendered == """
        NAME                STATUS
        pi-1                alive
        a-much-longer-name  dead

        """)
    }
}
