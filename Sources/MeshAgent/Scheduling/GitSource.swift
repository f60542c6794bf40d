import Foundation
import Scheduler
import Supervisor

/// A workload's git source, fetched by each node into the instance's own checkout
/// (`DATA/sources/NAME.INSTANCE`) with the system's `git` before the instance starts:
/// cloned the first time, updated (fetch + forced checkout of the ref) on every later
/// start, so a rolling restart picks up what the ref names now. Files the instance wrote
/// that git does not track are left alone.
enum GitSource {
    /// The checkout of one instance.
    static func directory(dataDirectory: String, instance: String) -> String { "\(dataDirectory)/sources/\(instance)" }

    /// The instance's working directory: the checkout, or the spec's (relative) directory in it.
    static func workingDirectory(checkout: String, spec: WorkloadSpec) -> String {
        spec.workingDirectory.map { "\(checkout)/\($0)" } ?? checkout
    }

    /// Why a fetch failed, per instance (its `workload.start_failed` event and `ps` detail).
    struct FetchError: Error, Equatable, CustomStringConvertible {
        var url: String
        var ref: String
        var detail: String
        var description: String { "git source \(url) at \(ref) could not be fetched: \(detail)" }
    }

    /// Clones or updates `checkout` to `source.ref`. Never asks for credentials (a URL that
    /// needs them fails at once); each git step is bounded by `SchedulingSettings.gitTimeout`.
    static func fetch(_ source: WorkloadSpec.Source, into checkout: String) async -> Result<Void, FetchError> {
        func fail(_ detail: String) -> Result<Void, FetchError> { .failure(FetchError(url: source.url, ref: source.ref, detail: detail)) }
        do {
            try FileManager.default.createDirectory(atPath: checkout, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o750])
        } catch {
            return fail("cannot create \(checkout): \(error.localizedDescription)")
        }
        // No prompt of any kind: not for a password, not for an unknown ssh host key.
        let environment = ["GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "/bin/false", "GIT_SSH_COMMAND": "ssh -o BatchMode=yes",
                           "LC_ALL": "C"]
        var steps: [[String]] = []
        if !FileManager.default.fileExists(atPath: checkout + "/.git") { steps.append(["init", "--quiet", checkout]) }
        steps.append(["-C", checkout, "fetch", "--quiet", "--depth", "1", "--no-tags", source.url, source.ref])
        steps.append(["-C", checkout, "checkout", "--quiet", "--force", "--detach", "FETCH_HEAD"])
        for step in steps {
            let outcome = await ToolRun.run("git", step, environment: environment, timeout: SchedulingSettings.gitTimeout)
            if !outcome.succeeded { return fail(outcome.detail) }
        }
        return .success(())
    }
}
