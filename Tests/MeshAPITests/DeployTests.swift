import Foundation
import MeshClient
import Testing

/// The pure half of `meshctl deploy`: input checks, the probe, paths, the files written.
/// scripts/netns/deploy.py runs the whole command against a real sshd.
struct DeployTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized

    @Test func theEmbeddedUnitIsConfigsMeshdService() throws {
        let file = try String(contentsOf: Self.packageRoot.appendingPathComponent("configs/meshd.service"), encoding: .utf8)
        #expect(SystemdUnit.text == file, "configs/meshd.service changed: paste it into Sources/MeshClient/SystemdUnit.swift")
    }

    @Test func targetsAreUserAtHostOrHostAndNeverAnOption() throws {
        #expect(try Deploy.Target(parsing: "pi@192.168.1.12") == Deploy.Target(parsing: "pi@192.168.1.12"))
        let t = try Deploy.Target(parsing: "pi@pi-2.local")
        #expect(t.user == "pi" && t.host == "pi-2.local" && t.description == "pi@pi-2.local")
        #expect(try Deploy.Target(parsing: "pi-3").user == nil)
        #expect(try Deploy.Target(parsing: "root@fe80::1%eth0").host == "fe80::1%eth0")
        for bad in ["", "-oProxyCommand=x", "pi@-oProxyCommand=x", "a@b@c", "@host", "user@", "pi@host;reboot", "pi@ho st",
                    String(repeating: "h", count: 256)] {
            #expect(throws: Deploy.Failure.self, "\(bad)") { try Deploy.Target(parsing: bad) }
        }
    }

    @Test func theProbeIsParsedOrRefusedWithWhatCameBack() throws {
        let facts = try Deploy.parseProbe("""
            arch=aarch64
            uid=1000
            home=/home/pi
            hostname=pi-2
            address=192.168.1.12
            systemd=1
            meshd_running=0
            probe=done
            """, host: "pi@pi-2")
        #expect(facts == Deploy.RemoteFacts(arch: "aarch64", uid: 1000, home: "/home/pi", hostname: "pi-2", address: "192.168.1.12",
                                            systemd: true, meshdRunning: false))
        #expect(throws: Deploy.Failure.unexpectedProbe(host: "h", output: "Welcome!\n")) { try Deploy.parseProbe("Welcome!\n", host: "h") }
    }

    @Test func pathsFollowTheUserAndSystemdOnlyForRoot() {
        let pi = Deploy.RemoteFacts(arch: "aarch64", uid: 1000, home: "/home/pi", hostname: "pi-2", address: "10.0.0.2",
                                    systemd: true, meshdRunning: false)
        let user = Deploy.Layout.choose(for: pi, remoteDir: nil)
        #expect(user.binDir == "/home/pi/.local/bin" && user.keyFile == "/home/pi/.config/meshd/cluster.key"
            && user.dataDir == "/home/pi/.local/share/meshd" && !user.systemdUnit)
        var root = pi
        root.uid = 0
        let system = Deploy.Layout.choose(for: root, remoteDir: nil)
        #expect(system.binDir == "/usr/local/bin" && system.configFile == "/etc/meshd/meshd.json" && system.dataDir == "/var/lib/meshd"
            && system.systemdUnit)
        // The unit's paths are the root layout's.
        #expect(SystemdUnit.text.contains("ExecStart=\(system.binDir)/meshd --config \(system.configFile)"))
        #expect(SystemdUnit.text.contains("StateDirectory=meshd") && system.dataDir == "/var/lib/meshd")
        root.systemd = false
        #expect(!Deploy.Layout.choose(for: root, remoteDir: nil).systemdUnit)
        let custom = Deploy.Layout.choose(for: root, remoteDir: "/tmp/x")
        #expect(custom.binDir == "/tmp/x/bin" && custom.dataDir == "/tmp/x/data" && custom.pidFile == "/tmp/x/data/meshd.pid" && !custom.systemdUnit)
    }

    @Test func theConfigurationJoinsAndAdvertisesTheAddressSSHReached() throws {
        let facts = Deploy.RemoteFacts(arch: "aarch64", uid: 0, home: "/root", hostname: "pi-2", address: "192.168.1.12",
                                       systemd: false, meshdRunning: false)
        let layout = Deploy.Layout.choose(for: facts, remoteDir: nil)
        let text = Deploy.configuration(facts: facts, layout: layout, meshPort: 7600, join: ["192.168.1.11:7600"],
                                        tags: ["rack": "b"], profile: "lan")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(object["name"] as? String == "pi-2" && object["bind"] as? String == "0.0.0.0:7600")
        #expect(object["advertise"] as? String == "192.168.1.12:7600" && object["join"] as? [String] == ["192.168.1.11:7600"])
        #expect(object["cluster_key_file"] as? String == "/etc/meshd/cluster.key" && object["data_dir"] as? String == "/var/lib/meshd")
        #expect(object["tags"] as? [String: String] == ["rack": "b"] && object["profile"] as? String == "lan")
        #expect(Deploy.hostPort("fd00::2", 7600) == "[fd00::2]:7600")
    }

    @Test func theInstallScriptWritesTheKey0600FromStdinAndQuotesPaths() {
        let layout = Deploy.Layout(binDir: "/opt/it's/bin", configFile: "/opt/c.json", keyFile: "/opt/k", dataDir: "/opt/d", systemdUnit: false)
        let script = Deploy.installScript(layout: layout, stagingDir: "/tmp/s", configuration: "{}\n", clusterKey: "S2V5", unit: SystemdUnit.text)
        #expect(script.contains("cat > '/opt/k' <<'MESHD_KEY_EOF'\nS2V5\nMESHD_KEY_EOF\nchmod 0600 '/opt/k'"))
        #expect(script.contains("'/opt/it'\\''s/bin'"))
        #expect(script.contains("setsid nohup") && script.contains("> '/opt/d/meshd.pid'") && !script.contains("systemctl"))
        let unitScript = Deploy.installScript(layout: Deploy.Layout(binDir: "/usr/local/bin", configFile: "/etc/meshd/meshd.json",
                                                                    keyFile: "/etc/meshd/cluster.key", dataDir: "/var/lib/meshd", systemdUnit: true),
                                              stagingDir: "/tmp/s", configuration: "{}\n", clusterKey: "S2V5", unit: SystemdUnit.text)
        #expect(unitScript.contains(SystemdUnit.text + "MESHD_UNIT_EOF") && unitScript.contains("systemctl restart meshd.service")
            && !unitScript.contains("setsid"))
    }

    @Test func sshNeverPromptsAndTheUsersOptionsFollow() {
        #expect(Deploy.sshOptions(Deploy.Settings(), user: ["IdentityFile=~/.ssh/pi"])
            == ["-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "IdentityFile=~/.ssh/pi"])
    }

    @Test func theBinarysArchitectureComesFromItsELFHeader() {
        func header(_ machine: UInt16) -> Data {
            Data([0x7F, 0x45, 0x4C, 0x46, 2, 1, 1, 0] + [UInt8](repeating: 0, count: 8) + [2, 0, UInt8(machine & 0xFF), UInt8(machine >> 8)])
        }
        #expect(Deploy.elfArchitecture(header(0x3E)) == "x86_64")
        #expect(Deploy.elfArchitecture(header(0xB7)) == "aarch64")
        #expect(Deploy.elfArchitecture(Data("#!/bin/sh\nexec true\n".utf8)) == nil)
        #expect(Deploy.runs(remote: "arm64", binary: "aarch64") && !Deploy.runs(remote: "aarch64", binary: "x86_64"))
    }
}
