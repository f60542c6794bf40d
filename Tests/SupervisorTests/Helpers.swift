import TestSupport
import Foundation
@testable import Supervisor

/// A temporary folder removed when the test ends.
struct TempDirectory {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "meshd-sup-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Collects a supervisor's events so a test can wait for one with a deadline.
final class EventRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var seen: [SupervisorEvent] = []
    private var task: Task<Void, Never>?

    init(_ supervisor: Supervisor) {
        let events = supervisor.events
        task = Task { [weak self] in
            for await e in events { self?.append(e) }
        }
    }

    private func append(_ e: SupervisorEvent) { lock.lock(); seen.append(e); lock.unlock() }

    var all: [SupervisorEvent] { lock.lock(); defer { lock.unlock() }; return seen }

    func kinds(_ id: InstanceID) -> [SupervisorEvent.Kind] { all.filter { $0.instance == id }.map(\.kind) }

    /// Waits until an event of `id` satisfies `match`; fails with what was seen at the deadline.
    @discardableResult
    func wait(for id: InstanceID, timeout: Duration = .seconds(10), _ what: String = "event",
              _ match: (SupervisorEvent.Kind) -> Bool) async throws -> SupervisorEvent.Kind {
        try await eventually(timeout: timeout, "\(what) for \(id); saw \(kinds(id))") {
            kinds(id).first(where: match)
        }
    }

    /// Waits until `kind` was seen for `id`.
    func wait(for id: InstanceID, _ kind: SupervisorEvent.Kind, timeout: Duration = .seconds(10)) async throws {
        try await wait(for: id, timeout: timeout, "\(kind)") { $0 == kind }
    }

    func cancel() { task?.cancel() }
}

/// Polls `probe` every 10 ms until it returns a value or `timeout` passes.
func eventually<T>(timeout: Duration = .seconds(10), _ what: @autoclosure () -> String,
                   _ probe: () async throws -> T?) async throws -> T {
    try await poll(what(), timeout: timeout, interval: .milliseconds(10), probe)
}

/// Runs `body` with a fresh supervisor in a temp folder; stops every instance and removes
/// the folder afterwards, whatever happens.
func withSupervisor(_ configure: (inout SupervisorSettings) -> Void = { _ in },
                    _ body: (Supervisor, EventRecorder, TempDirectory) async throws -> Void) async throws {
    let dir = TempDirectory()
    var settings = SupervisorSettings(stateDirectory: dir.path + "/state", logDirectory: dir.path + "/logs")
    settings.restartBackoffBase = .milliseconds(20)
    settings.restartBackoffCap = .milliseconds(80)
    settings.adoptedPollInterval = .milliseconds(20)
    configure(&settings)
    let supervisor = try Supervisor(settings: settings)
    let recorder = EventRecorder(supervisor)
    do {
        try await body(supervisor, recorder, dir)
    } catch {
        await supervisor.stopAll(); await supervisor.detach(); recorder.cancel(); dir.remove()
        throw error
    }
    await supervisor.stopAll(); await supervisor.detach(); recorder.cancel(); dir.remove()
}

func isExit(_ k: SupervisorEvent.Kind) -> Bool { if case .exited = k { true } else { false } }
func isStarted(_ k: SupervisorEvent.Kind) -> Bool { if case .started = k { true } else { false } }
func isStopped(_ k: SupervisorEvent.Kind) -> Bool { if case .stopped = k { true } else { false } }
