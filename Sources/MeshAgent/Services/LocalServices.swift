import MeshAPI
import MeshCore
import Supervisor

/// Which output of an instance (`Supervisor.OutputStream`; Foundation has a type of that name).
typealias LogStream = OutputStream

/// This node's own services below the mesh layers: the supervisor and statistics. They
/// answer local API calls and other members' `NodeQuery`s alike.
struct LocalServices: Sendable {
    let supervisor: SupervisorService
    let stats: StatsService
    let name: String
    /// Commands run for `meshctl exec`.
    let exec: ExecService

    /// This node's instances with their latest cpu and rss.
    func localRows() async -> [InstanceRow] {
        await supervisor.rows(stats: await stats.instanceStats)
    }

    /// Answers a question about this node (from another member, or from this agent's API).
    func answer(_ query: NodeQuery) async -> NodeReply {
        switch query {
        case .instances: return .instances(await localRows())
        case let .logs(request): return await supervisor.logChunk(request)
        case let .stats(seconds):
            let history = min(Duration.seconds(max(0, seconds)), AgentLimits.maxStatsHistory)
            return .stats(await stats.info(history: history))
        case .execStart, .execPoll, .execCancel:
            return await exec.answer(query)
        case let .stdin(instance, data):
            let reply = await supervisor.writeStdin(instance, [UInt8](data))
            if case let .execRefused(refusal) = reply { exec.counters.refused(refusal) }
            return reply
        }
    }
}
