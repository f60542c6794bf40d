import Foundation
@testable import MeshAgent
import Testing

struct ConfigTests {
    let env = ["HOME": "/home/pi"]

    func writeConfig(_ json: String) throws -> String {
        let path = NSTemporaryDirectory() + "meshd-config-\(UUID().uuidString).json"
        try json.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func defaultsAreAOneNodeMeshOnLoopbackAPI() throws {
        let c = try ConfigLoader.load(flags: [:], configFile: nil, environment: env)
        #expect(c.bind == HostPort(host: "0.0.0.0", port: 7600))
        #expect(c.api == HostPort(host: "127.0.0.1", port: 7601))
        #expect(c.dataDir == "/home/pi/.local/share/meshd")
        #expect(c.join.isEmpty && c.profile == .lan && c.logLevel == .info)
    }

    @Test func rejoinIsOnByDefaultAndTurnedOffByFlagFileOrEnvironment() throws {
        #expect(try ConfigLoader.load(flags: [:], configFile: nil, environment: env).rejoin)
        #expect(try !ConfigLoader.load(flags: ["rejoin": .text("false")], configFile: nil, environment: env).rejoin)
        #expect(try !ConfigLoader.load(flags: [:], configFile: writeConfig(#"{"rejoin": false}"#), environment: env).rejoin)
        #expect(try !ConfigLoader.load(flags: [:], configFile: nil, environment: env.merging(["MESHD_REJOIN": "false"]) { $1 }).rejoin)
        #expect(throws: ConfigError.self) { try ConfigLoader.load(flags: ["rejoin": .text("maybe")], configFile: nil, environment: env) }
    }

    @Test func flagsOverrideFileWhichOverridesEnvironment() throws {
        let file = try writeConfig(#"{"name": "from-file", "api": "127.0.0.1:9000", "tags": {"arch": "arm64"}, "join": ["10.0.0.1:7600"]}"#)
        var e = env
        e["MESHD_NAME"] = "from-env"; e["MESHD_API"] = "127.0.0.1:8000"; e["MESHD_LOG_LEVEL"] = "debug"
        e["MESHD_JOIN"] = "10.0.0.9:7600, 10.0.0.8:7600"
        let c = try ConfigLoader.load(flags: ["name": .text("from-flag")], configFile: file, environment: e)
        #expect(c.name == "from-flag")
        #expect(c.api.port == 9000)
        #expect(c.logLevel == .debug)
        #expect(c.tags == ["arch": "arm64"])
        #expect(c.join == [HostPort(host: "10.0.0.1", port: 7600)])
    }

    @Test func environmentListsAndTags() throws {
        var e = env
        e["MESHD_JOIN"] = "10.0.0.9:7600,[fe80::1]:7600"; e["MESHD_TAGS"] = "arch=arm64,room=lab"
        let c = try ConfigLoader.load(flags: [:], configFile: nil, environment: e)
        #expect(c.join == [HostPort(host: "10.0.0.9", port: 7600), HostPort(host: "fe80::1", port: 7600)])
        #expect(c.tags == ["arch": "arm64", "room": "lab"])
    }

    @Test(arguments: [
        (["bind": RawSetting.text("nope")], "bind = nope (from flag --bind): HOST:PORT with a port 0-65535"),
        (["bind": .text("1.2.3.4:70000")], "bind = 1.2.3.4:70000 (from flag --bind)"),
        (["advertise": .text("1.2.3.4:0")], "advertise = 1.2.3.4:0 (from flag --advertise): HOST:PORT with a port 1-65535"),
        (["log_level": .text("loud")], "log_level = loud (from flag --log-level): one of trace, debug, info"),
        (["profile": .text("fast")], "profile = fast (from flag --profile): one of lan, wan, local"),
        (["name": .text("has space")], "name = has space (from flag --name): a name of 1-64"),
        (["join": .list(["10.0.0.1"])], "join = 10.0.0.1 (from flag --join)"),
        (["tags": .table(["bad key": "x"])], "tags = bad key=x (from flag --tags)"),
    ])
    func badFlagValuesNameKeyValueAndWhatIsAllowed(flags: [String: RawSetting], message: String) {
        do {
            _ = try ConfigLoader.load(flags: flags, configFile: nil, environment: env)
            Issue.record("accepted \(flags)")
        } catch {
            #expect(error.description.contains(message), "\(error.description)")
        }
    }

    @Test func unknownFileKeyIsNamed() throws {
        let file = try writeConfig(#"{"nmae": "x"}"#)
        #expect(throws: ConfigError.self) { try ConfigLoader.load(flags: [:], configFile: file, environment: env) }
        do { _ = try ConfigLoader.load(flags: [:], configFile: file, environment: env) } catch {
            #expect(error.key == "nmae")
            #expect(error.description.contains("not a known key; known keys: advertise, api, api_require_token, api_tls_cert, api_tls_key, bind"))
        }
    }

    @Test func wrongTypeInFileIsNamed() throws {
        let file = try writeConfig(#"{"bind": 7600}"#)
        do {
            _ = try ConfigLoader.load(flags: [:], configFile: file, environment: env)
            Issue.record("accepted a number for bind")
        } catch {
            #expect(error.description == "bad configuration: bind = 7600 (from config file \(file)): HOST:PORT with a port 0-65535, e.g. 0.0.0.0:7600")
        }
    }

    @Test func unparsableFileAndMissingFile() throws {
        let file = try writeConfig("{not json")
        #expect(throws: ConfigError.self) { try ConfigLoader.load(flags: [:], configFile: file, environment: env) }
        #expect(throws: ConfigError.self) { try ConfigLoader.load(flags: [:], configFile: "/nonexistent/x.json", environment: env) }
    }

    @Test func unknownEnvironmentVariableIsNamed() {
        var e = env; e["MESHD_BNID"] = "x"
        do {
            _ = try ConfigLoader.load(flags: [:], configFile: nil, environment: e)
            Issue.record("accepted MESHD_BNID")
        } catch {
            #expect(error.key == "MESHD_BNID")
        }
    }

    @Test func shippedExampleConfigsAreValid() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../configs").standardized
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".json") }
        #expect(!files.isEmpty)
        for f in files {
            _ = try ConfigLoader.load(flags: [:], configFile: dir.appendingPathComponent(f).path, environment: env)
        }
    }

    @Test func hostPortParsing() {
        #expect(HostPort(parsing: "[::1]:7600") == HostPort(host: "::1", port: 7600))
        #expect(HostPort(parsing: "pi-3:1") == HostPort(host: "pi-3", port: 1))
        #expect(HostPort(parsing: "::1:7600") == nil)
        #expect(HostPort(parsing: ":7600") == nil)
        #expect(HostPort(parsing: "host:-1") == nil)
        #expect(HostPort(host: "::1", port: 7600).description == "[::1]:7600")
    }
}
