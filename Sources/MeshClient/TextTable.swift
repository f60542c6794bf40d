/// An aligned text table, as meshctl prints by default: a header row in capitals, columns
/// padded to their widest cell, two spaces between columns, no trailing spaces.
public struct TextTable: Sendable {
    public var header: [String]
    public var rows: [[String]] = []

    public init(_ header: [String]) { self.header = header.map { $0.uppercased() } }

    public mutating func add(_ row: [String]) { rows.append(row) }

    public var rendered: String {
        let all = [header] + rows
        let columns = all.map(\.count).max() ?? 0
        var widths = [Int](repeating: 0, count: columns)
        for row in all { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        return all.map { row in
            var line = ""
            for (i, cell) in row.enumerated() {
                line += cell
                if i < row.count - 1 { line += String(repeating: " ", count: widths[i] - cell.count + 2) }
            }
            return line
        }.joined(separator: "\n") + "\n"
    }
}

/// Two-column `key  value` lines, aligned, for single-object answers (`meshctl status`).
public struct KeyValueList: Sendable {
    public var pairs: [(String, String)] = []
    public init() {}
    public mutating func add(_ key: String, _ value: String) { pairs.append((key, value)) }

    public var rendered: String {
        let width = pairs.map(\.0.count).max() ?? 0
        return pairs.map { $0.0 + String(repeating: " ", count: width - $0.0.count + 2) + $0.1 }.joined(separator: "\n") + "\n"
    }
}
