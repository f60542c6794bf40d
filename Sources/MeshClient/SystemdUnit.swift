/// configs/meshd.service, as `meshctl deploy` writes it to /etc/systemd/system on a host
/// where systemd runs (meshctl must work without the repository next to it).
/// Tests/MeshAPITests/DeployTests.swift fails when this and the file differ: change the
/// file, then paste it here.
public enum SystemdUnit {
    public static let text = #"""
# meshd as a systemd service (scripts/install.sh --systemd installs it; meshctl deploy
# writes this same unit on hosts where systemd runs: Tests/MeshAPITests/DeployTests.swift
# checks the two are equal). The agent runs as the unprivileged user `meshd`, reads
# /etc/meshd/meshd.json (a config file, docs/INTERFACES.md "Configuration") and keeps
# its state in /var/lib/meshd. Check a changed copy with `systemd-analyze verify`.
#
# The agent starts, signals and adopts processes (workloads) and they inherit every
# restriction below: this unit hardens what no workload of a mesh agent should need and
# leaves alone what ordinary workloads do (bind ports, use devices, JIT, namespaces).
# Loosen or tighten it per machine with a drop-in (`systemctl edit meshd`), e.g.
# ReadWritePaths= for a directory a workload writes, SupplementaryGroups=gpio i2c for a
# Raspberry Pi's sensors.

[Unit]
Description=meshd mesh agent (membership, event log, consensus, workloads)
Documentation=https://github.com/meshd/meshd/blob/main/docs/INTERFACES.md
After=network-online.target
Wants=network-online.target
# Give up after 5 failed starts in 2 minutes (a bad config exits 2 at once: no busy loop).
StartLimitIntervalSec=120
StartLimitBurst=5

[Service]
# meshd does not notify systemd; "exec" means started once the binary runs.
Type=exec
User=meshd
Group=meshd
ExecStart=/usr/local/bin/meshd --config /etc/meshd/meshd.json
# SIGTERM makes the agent leave the mesh, stop its workloads (each with its grace period,
# 10 s by default, in parallel) and close its stores; give it that and some margin.
TimeoutStopSec=45
# Only meshd gets the stop signal: it stops its own workloads, except `survive_agent`
# ones, which must outlive it so the next agent adopts them (workload_recovery=adopt).
# The default (control-group) would SIGKILL those with the agent.
KillMode=process
Restart=on-failure
RestartSec=2s
# Exit 2 is a bad configuration: restarting cannot fix it.
RestartPreventExitStatus=2

# Each instance holds pipes, log files and FIFOs; the agent sockets and SQLite files.
LimitNOFILE=65536
# Workloads' threads and processes count against the unit; the default (15 % of the
# kernel's pid limit) is tight on a Pi with many small workloads.
TasksMax=8192

# State: /var/lib/meshd made 0700 and owned by meshd (the agent also refuses looser
# key files); the only place besides /tmp the service writes under ProtectSystem=strict.
StateDirectory=meshd
StateDirectoryMode=0700
ConfigurationDirectory=meshd
# The whole file system read-only except the state directory (above), /dev, /proc, /sys.
ProtectSystem=strict
# Workloads may run code from a home directory (a checkout); they may not change it.
ProtectHome=read-only
# A /tmp of the service's own: workloads' temp files go away with it.
PrivateTmp=yes
# No setuid/setgid escalation for the agent or any workload (sudo in a workload fails).
NoNewPrivileges=yes
RestrictSUIDSGID=yes
# No capabilities: the agent binds ports above 1024 and signals only its own children.
CapabilityBoundingSet=
AmbientCapabilities=
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectClock=yes
ProtectHostname=yes
# cgroups read-only: the agent reads its children's usage from /proc, not cgroups.
ProtectControlGroups=yes
LockPersonality=yes
RestrictRealtime=yes
# IPv4/IPv6 for the mesh and API, unix sockets for workloads, netlink for `ip` in them.
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK
UMask=0027
# Left out on purpose, each would break ordinary workloads or the agent:
#   PrivateDevices=  a Pi workload reads /dev/i2c-1, /dev/gpiochip0, serial ports;
#   MemoryDenyWriteExecute=  JIT runtimes (node, Java, PyPy) map writable code;
#   SystemCallFilter=  the agent cannot know what its workloads call;
#   ProcSubset=pid  the statistics read /proc/stat, /proc/meminfo, /proc/net/dev;
#   PrivateUsers=, RestrictNamespaces=  workloads may run containers.

[Install]
WantedBy=multi-user.target

"""#
}
