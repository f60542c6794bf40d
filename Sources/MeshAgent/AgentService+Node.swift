import Foundation
import Logging
import Supervisor

extension AgentService {
    /// Opens the supervisor (`supervisor/`, `logs/`) and the statistics (`stats.db`) in the
    /// data directory, answers other members' node queries with them, records every
    /// supervisor event in the event log, and adopts or stops what the previous agent left
    /// running (`workload_recovery`).
    func startNodeServices(runtime: MeshRuntime, dataDir: DataDirectory,
                           eventLog: EventLogService) async throws -> (LocalServices, @Sendable (String, [String: String]) async -> Void) {
        let log = logger
        let record: @Sendable (String, [String: String]) async -> Void = { kind, attributes in
            do { _ = try await eventLog.append(kind: kind, attributes: attributes) } catch {
                log.warning("cannot record a workload event", metadata: ["kind": "\(kind)", "error": "\(error)"])
            }
        }
        let supervisor = try SupervisorService(dataDirectory: dataDir.path,
                                               recovery: config.workloadRecovery == .stop ? .stop : .adopt,
                                               nodeName: config.name, logger: logger)
        let stats = try StatsService(dataDirectory: dataDir.path, sampleInterval: config.statsInterval,
                                     nodeName: config.name, logger: logger)
        let exec = ExecService(nodeName: config.name, supervisor: supervisor, record: record)
        let node = LocalServices(supervisor: supervisor, stats: stats, name: config.name, exec: exec)
        await runtime.setNodeQueryHandler { query, _ in await node.answer(query) }
        await supervisor.start(record: record)
        await stats.start(supervisor: supervisor.supervisor, runtime: runtime)
        return (node, record)
    }
}
