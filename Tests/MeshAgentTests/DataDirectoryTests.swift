import Foundation
@testable import MeshAgent
import MeshWire
import Testing

struct DataDirectoryTests {
    func freshDir() -> DataDirectory {
        DataDirectory(path: NSTemporaryDirectory() + "meshd-data-\(UUID().uuidString)/nested")
    }

    @Test func identityIsMadeOnceWithMode0600AndKept() throws {
        let dir = freshDir()
        try dir.prepare()
        let (first, created) = try dir.loadOrCreateIdentity()
        #expect(created)
        let (second, createdAgain) = try dir.loadOrCreateIdentity()
        #expect(!createdAgain)
        #expect(first.nodeID == second.nodeID)
        let attrs = try FileManager.default.attributesOfItem(atPath: dir.path + "/node.key")
        #expect((attrs[.posixPermissions] as! NSNumber).intValue == 0o600)
    }

    @Test func identityReadableByOthersIsRefused() throws {
        let dir = freshDir()
        try dir.prepare()
        _ = try dir.loadOrCreateIdentity()
        chmod(dir.path + "/node.key", 0o644)
        #expect(throws: SecretFileError.tooOpen(path: dir.path + "/node.key", mode: 0o644)) { try dir.loadOrCreateIdentity() }
    }

    @Test func corruptIdentityIsRefusedNotReplaced() throws {
        let dir = freshDir()
        try dir.prepare()
        let file = dir.path + "/node.key"
        FileManager.default.createFile(atPath: file, contents: Data("garbage\n".utf8), attributes: [.posixPermissions: 0o600])
        do {
            _ = try dir.loadOrCreateIdentity()
            Issue.record("accepted a corrupt identity")
        } catch {
            guard case .corrupt(let path, _) = error else { Issue.record("\(error)"); return }
            #expect(path == file)
        }
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "garbage\n")
    }

    @Test func clusterKeyIsMadeInTheDataDirOrReadFromTheNamedFile() throws {
        let dir = freshDir()
        try dir.prepare()
        let (made, created) = try dir.loadOrCreateClusterKey(explicitFile: nil)
        #expect(created)
        #expect(try dir.loadOrCreateClusterKey(explicitFile: nil).key == made)
        let named = dir.path + "/other.key"
        #expect(throws: SecretFileError.self) { try dir.loadOrCreateClusterKey(explicitFile: named) }
        let key = ClusterKey.generate()
        FileManager.default.createFile(atPath: named, contents: Data((key.base64 + "\n").utf8), attributes: [.posixPermissions: 0o600])
        #expect(try dir.loadOrCreateClusterKey(explicitFile: named).key == key)
        FileManager.default.createFile(atPath: named + "2", contents: Data("c2hvcnQ=".utf8), attributes: [.posixPermissions: 0o600])
        #expect(throws: SecretFileError.corrupt(path: named + "2", reason: KeyFormatError.wrongLength(5, expected: 32).description)) {
            try dir.loadOrCreateClusterKey(explicitFile: named + "2")
        }
    }
}
