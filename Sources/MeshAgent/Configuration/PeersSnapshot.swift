import Foundation
import MeshAPI

/// The members this agent last saw alive, kept in `data_dir/peers` (one `HOST:PORT` per
/// line), so an agent restarted with its data directory joins them again at once, even
/// started without `--join`, as Serf's snapshot file does. Without it a restarted first
/// node sits alone until a peer's periodic retry of dead members finds it.
///
/// The file holds a random sample of at most `AgentLimits.rejoinPeers` members, drawn
/// again only when the set of live members changes, so it is rewritten rarely and nodes
/// spread their rejoins over different peers. It is written atomically (a temporary file
/// renamed over it); a line that does not parse is skipped on load.
struct PeersSnapshot: Sendable {
    static let fileName = "peers"
    let path: String

    init(dataDir: String) { path = (dataDir as NSString).appendingPathComponent(Self.fileName) }

    /// The addresses in the file; none when there is no file or it cannot be read.
    func load() -> [HostPort] {
        guard let data = FileManager.default.contents(atPath: path), data.count <= AgentLimits.maxPeersFileBytes else { return [] }
        return String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline)
            .compactMap { HostPort(parsing: String($0)) }.filter { $0.port > 0 }
            .prefix(AgentLimits.rejoinPeers).map { $0 }
    }

    func save(_ peers: [HostPort]) throws {
        let text = peers.map(\.description).joined(separator: "\n") + (peers.isEmpty ? "" : "\n")
        let temporary = path + ".tmp"
        try Data(text.utf8).write(to: URL(fileURLWithPath: temporary))
        guard rename(temporary, path) == 0 else { throw CocoaError(.fileWriteUnknown) }
    }

    /// What to write for these members: nil when the live set is the one last written
    /// (`previous`), else a sample of the live members other than this node.
    static func sample(_ members: [MemberInfo], previous: Set<String>) -> (live: Set<String>, peers: [HostPort])? {
        let live = members.filter { $0.status == "alive" && !$0.isSelf }
        let addresses = Set(live.map(\.address))
        guard addresses != previous else { return nil }
        let peers = addresses.shuffled().prefix(AgentLimits.rejoinPeers).compactMap { HostPort(parsing: $0) }
        return (addresses, peers)
    }
}
