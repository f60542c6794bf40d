import ArgumentParser
import MeshWire

/// meshctl: talk to any agent of the mesh.
@main
struct MeshCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meshctl",
        abstract: "Control a meshd mesh from any of its agents.",
        subcommands: [Keygen.self]
    )
}

struct Keygen: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a new random 32-byte cluster key (base64).",
        discussion: """
        Example:
          meshctl keygen > cluster.key && chmod 600 cluster.key
          meshd --cluster-key-file cluster.key
        """
    )

    func run() {
        print(ClusterKey.generate().base64)
    }
}
