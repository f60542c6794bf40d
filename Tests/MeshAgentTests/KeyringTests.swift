import Foundation
@testable import MeshAgent
import MeshWire
import Testing

struct KeyringTests {
    func tempDir() throws -> DataDirectory {
        let dir = DataDirectory(path: NSTemporaryDirectory() + "meshd-keyring-\(UUID().uuidString)")
        try dir.prepare()
        return dir
    }

    @Test func savedKeyringLoadsBackWithItsPrimaryFirstAndMode0600() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir.path) }
        let store = KeyringStore(dataDirectory: dir)
        #expect(try store.load() == nil)
        let (a, b) = (ClusterKey.generate(), ClusterKey.generate())
        var ring = Keyring(primary: a)
        try ring.install(b)
        try ring.use(b)
        try store.save(ring)
        try store.save(ring)   // replacing works
        #expect(try store.load() == ring)
        let mode = (try FileManager.default.attributesOfItem(atPath: store.path)[.posixPermissions] as! NSNumber).intValue
        #expect(mode == 0o600)
        chmod(store.path, 0o644)
        #expect(throws: SecretFileError.self) { try store.load() }
    }

    @Test func keyringMessagesRoundTripAndRefuseBadShapes() throws {
        let key = ClusterKey.generate()
        let command = KeyringCommand(requestID: 42, operation: .use, key: key.bytes)
        #expect(try KeyringCommand.decode(command.encoded) == command)
        let list = KeyringCommand(requestID: 7, operation: .list, key: [])
        #expect(try KeyringCommand.decode(list.encoded) == list)
        // A list with a key, an install without one, an unknown operation.
        #expect(throws: WireError.self) { try KeyringCommand.decode(KeyringCommand(requestID: 1, operation: .list, key: key.bytes).encoded) }
        #expect(throws: WireError.self) { try KeyringCommand.decode(KeyringCommand(requestID: 1, operation: .install, key: []).encoded) }
        var bad = command.encoded
        bad[8] = 9
        #expect(throws: WireError.self) { try KeyringCommand.decode(bad) }

        let reply = KeyringReply(requestID: 42, error: "", fingerprints: [key.fingerprint])
        #expect(try KeyringReply.decode(reply.encoded) == reply)
        #expect(throws: WireError.self) { try KeyringReply.decode(Array(reply.encoded.dropLast())) }
    }
}
