import MeshCore
import Consensus
import MeshAPI
import MeshCore

/// What `ConsensusService` counts for `/metrics`: leaders seen, step-downs by reason, and
/// the time its storage takes to save (the fsync every answer and every commit waits for).
struct ConsensusCounters: Sendable {
    var leaderChangesSeen: UInt64 = 0
    /// By `RaftStepDown.label`.
    var stepDowns: [String: UInt64] = [:]
    var saves: UInt64 = 0
    var saveSeconds: Double = 0
    /// The slowest save since the agent started.
    var saveMaxSeconds: Double = 0

    mutating func noteSave(_ d: Duration) {
        let seconds = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        saves += 1
        saveSeconds += seconds
        saveMaxSeconds = max(saveMaxSeconds, seconds)
    }
}

extension AgentMetrics {
    /// Every step-down reason, in a fixed order, so each has a sample from the start.
    static let stepDownLabels = [RaftStepDown.quorumContactLost, .newerTerm(.zero), .removedFromVoters].map(\.label)

    /// Raft's families (`meshd_raft_*`), named after etcd's where one exists
    /// (`etcd_server_leader_changes_seen_total`, `etcd_server_has_leader`).
    static func renderConsensus(_ c: ConsensusCounters, role: RaftRole, hasLeader: Bool, term: UInt64,
                                commit: UInt64, applied: UInt64) -> String {
        var p = PrometheusText()
        p.family("meshd_raft_term", .gauge, help: "This node's current Raft term.", value: Double(term))
        p.family("meshd_raft_commit_index", .gauge, help: "The highest log index this node knows committed.", value: Double(commit))
        p.family("meshd_raft_applied_index", .gauge, help: "The highest log index applied to this node's control state.",
                 value: Double(applied))
        p.family("meshd_raft_is_leader", .gauge, help: "1 if this node is the Raft leader.", value: role == .leader ? 1 : 0)
        p.family("meshd_raft_has_leader", .gauge, help: "1 if this node knows a leader.", value: hasLeader ? 1 : 0)
        p.family("meshd_raft_leader_changes_seen_total", .counter, help: "Times this node learned of a new leader (itself included).",
                 value: Double(c.leaderChangesSeen))
        p.family("meshd_raft_step_downs_total", .counter, help: "Times this node stopped leading, by reason.",
                 stepDownLabels.map { (labels: [("reason", $0)], value: Double(c.stepDowns[$0] ?? 0)) })
        p.family("meshd_raft_storage_saves_total", .counter, help: "Writes of Raft state and log entries to this node's storage.",
                 value: Double(c.saves))
        p.family("meshd_raft_storage_save_seconds_total", .counter, help: "Seconds spent in those writes, fsync included.",
                 value: c.saveSeconds)
        p.family("meshd_raft_storage_save_max_seconds", .gauge, help: "The slowest of those writes since the agent started.",
                 value: c.saveMaxSeconds)
        return p.text
    }

    /// The control replica's families (`meshd_control_*`), on every member.
    static func renderControlReplica(_ r: ControlReplica, now: MeshTime, stateFetches: Int) -> String {
        var p = PrometheusText()
        p.family("meshd_control_applied_index", .gauge, help: "The highest log index applied to this node's control replica.",
                 value: Double(r.appliedIndex.value))
        p.family("meshd_control_known_commit_index", .gauge, help: "The highest log index this node knows the leader committed.",
                 value: Double(r.knownCommit.value))
        p.family("meshd_control_lag_entries", .gauge, help: "Committed entries this node's control replica has not applied yet.",
                 value: Double(r.lagEntries))
        p.family("meshd_control_applied_age_seconds", .gauge, help: "Seconds since this node's control replica last applied an entry.",
                 value: (now - r.advancedAt).seconds)
        p.family("meshd_control_buffered_entries", .gauge, help: "Entries held ahead of a gap in the index order.",
                 value: Double(r.bufferedCount))
        p.family("meshd_control_state_fetches_total", .counter, help: "Control states installed from the leader (a replica that lagged or hit a gap).",
                 value: Double(stateFetches))
        return p.text
    }

    /// Quorum reads (`meshd_quorum_reads_*`): answered by a majority of the voters, or
    /// asked of the leader instead, by reason.
    static func renderQuorumReads(_ c: (answered: UInt64, fellBack: [QuorumReads.Fallback: UInt64])) -> String {
        var p = PrometheusText()
        p.family("meshd_quorum_reads_total", .counter, help: "Linearizable reads on this agent answered by a majority of the voters.",
                 value: Double(c.answered))
        p.family("meshd_quorum_reads_fallbacks_total", .counter, help: "Quorum reads that asked the leader instead, by reason.",
                 QuorumReads.Fallback.allCases.map { (labels: [("reason", $0.rawValue)], value: Double(c.fellBack[$0] ?? 0)) })
        return p.text
    }
}
