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

struct TableWidthTests {
    @Test func flexibleColumnsAreCutToFitWithAnEllipsis() {
        var t = TextTable(["name", "tags"], flexible: [1])
        t.add(["pi-1", String(repeating: "t", count: 100)])
        let text = t.render(OutputStyle(width: 40, colour: false))
        #expect(text == "NAME  TAGS\npi-1  " + String(repeating: "t", count: 33) + "…\n")
        #expect(text.split(separator: "\n").allSatisfy { $0.count <= 40 })
    }

    @Test func columnsThatAreNotFlexibleAreNeverCut() {
        var t = TextTable(["id", "tags"], flexible: [1])
        t.add([String(repeating: "i", count: 50), "a=b,c=d,e=f,g=h"])
        // The id alone is wider than 40: the tags give down to their floor (8), no further.
        #expect(t.render(OutputStyle(width: 40, colour: false)) == "ID" + String(repeating: " ", count: 50) + "TAGS\n"
            + String(repeating: "i", count: 50) + "  a=b,c=d…\n")
    }

    @Test func theWidestFlexibleColumnGivesFirst() {
        var t = TextTable(["a", "b", "c"], flexible: [1, 2])
        t.add(["x", String(repeating: "b", count: 30), String(repeating: "c", count: 12)])
        // 1 + 30 + 12 + 4 = 47 columns into 40: b gives 7 and c nothing.
        let line = t.render(OutputStyle(width: 40, colour: false)).split(separator: "\n")[1]
        #expect(line == "x  " + String(repeating: "b", count: 22) + "…  " + String(repeating: "c", count: 12))
    }

    @Test func colourWrapsTheTextAndKeepsTheAlignment() {
        var t = TextTable(["name", "status", "rtt"])
        t.colours = [1: { TerminalColour.of(state: $0) }]
        t.add(["a", "alive", "1ms"])
        t.add(["b", "dead", "-"])
        #expect(t.render(OutputStyle(width: 80, colour: true)) == """
        NAME  STATUS  RTT
        a     \u{1B}[32malive\u{1B}[0m   1ms
        b     \u{1B}[31mdead\u{1B}[0m    -

        """)
    }
}

struct OutputStyleTests {
    @Test func colourOnlyOnATerminalAndNeverWithNoColour() {
        #expect(OutputStyle.detect(environment: [:], stdoutIsTerminal: true, terminalColumns: 120).colour)
        #expect(!OutputStyle.detect(environment: [:], stdoutIsTerminal: false, terminalColumns: nil).colour)
        #expect(!OutputStyle.detect(environment: ["NO_COLOR": "1"], stdoutIsTerminal: true, terminalColumns: 120).colour)
        // no-color.org: set to anything non-empty; an empty value does not count.
        #expect(OutputStyle.detect(environment: ["NO_COLOR": ""], stdoutIsTerminal: true, terminalColumns: 120).colour)
        #expect(!OutputStyle.detect(environment: ["TERM": "dumb"], stdoutIsTerminal: true, terminalColumns: 120).colour)
    }

    @Test func widthIsTheTerminalsThenColumnsThen80() {
        #expect(OutputStyle.detect(environment: ["COLUMNS": "100"], stdoutIsTerminal: true, terminalColumns: 132).width == 132)
        #expect(OutputStyle.detect(environment: ["COLUMNS": "100"], stdoutIsTerminal: false, terminalColumns: nil).width == 100)
        #expect(OutputStyle.detect(environment: [:], stdoutIsTerminal: false, terminalColumns: nil).width == 80)
        #expect(OutputStyle.detect(environment: ["COLUMNS": "junk"], stdoutIsTerminal: false, terminalColumns: nil).width == 80)
        #expect(OutputStyle.detect(environment: ["COLUMNS": "3"], stdoutIsTerminal: false, terminalColumns: nil).width == 40)
    }
}
