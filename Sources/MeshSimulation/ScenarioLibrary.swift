import Foundation

/// Finds scenario files. A SCENARIO argument is a path to a file, or the name of a file in
/// a `simulations/` folder without its `.scenario` extension. Folders searched, in order:
/// `$MESHSIM_SCENARIOS`; `./simulations`; `simulations/` in each parent of the current
/// directory; `simulations/` in each parent of the executable's directory (so
/// `.build-sim/release/meshsim` finds the package's folder from anywhere).
public enum ScenarioLibrary {
    public static let fileExtension = "scenario"
    public static let environmentVariable = "MESHSIM_SCENARIOS"

    /// Candidate `simulations/` folders, most specific first, existing ones only.
    public static func folders(executablePath: String? = Bundle.main.executablePath) -> [String] {
        var candidates: [String] = []
        if let env = ProcessInfo.processInfo.environment[environmentVariable], !env.isEmpty { candidates.append(env) }
        func ancestors(of path: String) -> [String] {
            var out: [String] = []
            var url = URL(fileURLWithPath: path).standardizedFileURL
            for _ in 0 ..< 16 {
                out.append(url.appendingPathComponent("simulations").path)
                let parent = url.deletingLastPathComponent()
                if parent.path == url.path { break }
                url = parent
            }
            return out
        }
        candidates += ancestors(of: FileManager.default.currentDirectoryPath)
        if let exe = executablePath {
            candidates += ancestors(of: URL(fileURLWithPath: exe).resolvingSymlinksInPath().deletingLastPathComponent().path)
        }
        var seen = Set<String>()
        return candidates.filter { path in
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else { return false }
            return seen.insert(path).inserted
        }
    }

    /// The path of a scenario given as a path or a name.
    public static func locate(_ nameOrPath: String) throws(ScenarioError) -> String {
        if nameOrPath.contains("/") || nameOrPath.hasSuffix(".\(fileExtension)") {
            guard FileManager.default.fileExists(atPath: nameOrPath) else {
                throw .notFound(name: nameOrPath, searched: [nameOrPath])
            }
            return nameOrPath
        }
        let folders = folders()
        for folder in folders {
            let path = folder + "/" + nameOrPath + "." + fileExtension
            if FileManager.default.fileExists(atPath: path) { return path }
        }
        throw .notFound(name: nameOrPath, searched: folders.isEmpty ? ["./simulations (none found)"] : folders)
    }

    /// Loads and parses a scenario given as a path or a name.
    public static func load(_ nameOrPath: String) throws(ScenarioError) -> Scenario {
        let path = try locate(nameOrPath)
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw .unreadable(path: path, reason: "\(error)")
        }
        return try Scenario(parsing: text)
    }

    /// Every scenario in the first folder found: (name, description, path).
    public static func list() -> [(name: String, description: String, path: String)] {
        guard let folder = folders().first,
              let files = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return [] }
        return files.filter { $0.hasSuffix("." + fileExtension) }.sorted().map { file in
            let path = folder + "/" + file
            let name = String(file.dropLast(fileExtension.count + 1))
            let description = (try? String(contentsOfFile: path, encoding: .utf8)).flatMap { text in
                text.split(separator: "\n").first { $0.hasPrefix("description ") }.map { String($0.dropFirst(12)) }
            } ?? ""
            return (name, description, path)
        }
    }
}
