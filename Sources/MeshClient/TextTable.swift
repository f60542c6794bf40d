/// An aligned text table, as meshctl prints by default: a header row in capitals, columns
/// padded to their widest cell, two spaces between columns, no trailing spaces.
///
/// Rendered with an `OutputStyle`, it fits the style's width: the columns marked
/// `flexible` (free text such as tags or attributes) are cut, the widest first, down to
/// `minFlexibleWidth`, and a cut cell ends in `…`. Columns that are not flexible (names,
/// ids, addresses, numbers) are never cut, so a table with too many of them stays wider.
/// Colour (when the style allows it) wraps the cell's text only, so alignment is counted
/// on what the terminal shows.
public struct TextTable: Sendable {
    public var header: [String]
    public var rows: [[String]] = []
    /// Indexes of the columns that may be cut to fit the width.
    public var flexible: Set<Int>
    /// Per column, the colour of a cell from its text (nil: none).
    public var colours: [Int: @Sendable (String) -> TerminalColour?] = [:]

    /// A cut column keeps at least this many characters (or its header's, when longer).
    public static let minFlexibleWidth = 8
    /// Spaces between two columns.
    public static let gap = 2

    public init(_ header: [String], flexible: Set<Int> = []) {
        self.header = header.map { $0.uppercased() }
        self.flexible = flexible
    }

    public mutating func add(_ row: [String]) { rows.append(row) }

    /// Every cell whole, no colour: what a pipe got before widths were applied.
    public var rendered: String { render(OutputStyle(width: nil, colour: false)) }

    public func render(_ style: OutputStyle) -> String {
        let all = [header] + rows
        let columns = all.map(\.count).max() ?? 0
        var widths = [Int](repeating: 0, count: columns)
        for row in all { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        if let limit = style.width { widths = Self.fit(widths, header: header, flexible: flexible, limit: limit) }
        return all.enumerated().map { r, row in
            var line = ""
            for (i, cell) in row.enumerated() {
                let shown = cell.count > widths[i] ? String(cell.prefix(max(widths[i] - 1, 0))) + "…" : cell
                let colour = r == 0 ? nil : colours[i]?(cell)
                line += style.paint(shown, colour)
                if i < row.count - 1 { line += String(repeating: " ", count: widths[i] - shown.count + Self.gap) }
            }
            return line
        }.joined(separator: "\n") + "\n"
    }

    /// Column widths that fit `limit` by narrowing flexible columns, the widest first.
    static func fit(_ widths: [Int], header: [String], flexible: Set<Int>, limit: Int) -> [Int] {
        var widths = widths
        var excess = widths.reduce(0, +) + gap * max(widths.count - 1, 0) - limit
        // Each pass narrows the widest flexible column that can still give: at most one
        // pass per character of excess, and at most one per column when none can give.
        while excess > 0 {
            let floor = { (i: Int) in max(minFlexibleWidth, i < header.count ? header[i].count : 0) }
            guard let widest = flexible.filter({ $0 < widths.count && widths[$0] > floor($0) })
                .max(by: { widths[$0] < widths[$1] || (widths[$0] == widths[$1] && $0 > $1) }) else { break }
            let others = flexible.filter { $0 != widest && $0 < widths.count }.map { widths[$0] }.max() ?? 0
            // Down to the next widest flexible column (so they shrink together), at least one.
            let give = min(excess, widths[widest] - floor(widest), max(widths[widest] - others, 1))
            widths[widest] -= give
            excess -= give
        }
        return widths
    }
}

/// Two-column `key  value` lines, aligned, for single-object answers (`meshctl status`).
public struct KeyValueList: Sendable {
    public var pairs: [(String, String, TerminalColour?)] = []
    public init() {}
    public mutating func add(_ key: String, _ value: String, colour: TerminalColour? = nil) { pairs.append((key, value, colour)) }

    public var rendered: String { render(OutputStyle(width: nil, colour: false)) }

    public func render(_ style: OutputStyle) -> String {
        let width = pairs.map(\.0.count).max() ?? 0
        return pairs.map { $0.0 + String(repeating: " ", count: width - $0.0.count + 2) + style.paint($0.1, $0.2) }
            .joined(separator: "\n") + "\n"
    }
}
