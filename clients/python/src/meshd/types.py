"""The API's answers as plain Python objects (dataclasses). Field names are the JSON keys of
docs/openapi.json (the Codable types of Sources/MeshAPI), except `self` -> `is_self`; keys a
newer agent adds are ignored, keys an older one leaves out are None."""

from dataclasses import dataclass, field, fields
from typing import Dict, List, Optional


def _build(cls, data, renamed=None, **nested):
    """`cls` from a JSON object: each field from its key (`renamed` maps field -> key), the
    `nested` ones through their builder."""
    if data is None:
        return None
    renamed = renamed or {}
    values = {}
    for f in fields(cls):
        key = renamed.get(f.name, f.name)
        if key not in data:
            continue
        value = data[key]
        if f.name in nested and value is not None:
            value = nested[f.name](value)
        values[f.name] = value
    return cls(**values)


def _each(builder):
    return lambda items: [builder(item) for item in items]


class _Plain:
    """A type whose JSON keys are its fields, with nothing nested to convert."""

    @classmethod
    def from_json(cls, data):
        return _build(cls, data)


@dataclass
class Coordinate(_Plain):
    """A Vivaldi network coordinate (distances in seconds)."""
    vector: List[float] = field(default_factory=list)
    height: float = 0.0
    error: float = 0.0
    adjustment: float = 0.0


@dataclass
class Member:
    """One member as the agent asked sees it."""
    name: str
    id: str
    address: str
    status: str                      # alive, suspect, dead, left
    role: str                        # leader, voter, member
    incarnation: int = 0
    addresses: List[str] = field(default_factory=list)
    tags: Dict[str, str] = field(default_factory=dict)
    api_address: Optional[str] = None
    rtt_ms: Optional[float] = None
    coordinate: Optional[Coordinate] = None
    is_self: bool = False

    @classmethod
    def from_json(cls, data):
        return _build(cls, data, renamed={"is_self": "self"}, coordinate=Coordinate.from_json)


@dataclass
class VoterHealth(_Plain):
    name: str
    id: str
    status: str
    leader: bool = False


@dataclass
class Status:
    """The agent asked and the mesh: leader, term, voters, quorum, replica lag."""
    id: str
    name: str
    address: str
    api_address: str
    profile: str
    consensus: str
    addresses: List[str] = field(default_factory=list)
    members: Dict[str, int] = field(default_factory=dict)
    leader: Optional[str] = None
    term: Optional[int] = None
    voters: Optional[List[str]] = None
    quorum_reachable: Optional[bool] = None
    commit_index: Optional[int] = None
    applied_index: Optional[int] = None
    lag_entries: Optional[int] = None
    applied_age_seconds: Optional[float] = None
    voter_health: Optional[List[VoterHealth]] = None
    uptime_seconds: float = 0.0
    leaving: bool = False

    @classmethod
    def from_json(cls, data):
        return _build(cls, data, voter_health=_each(VoterHealth.from_json))


@dataclass
class Placement(_Plain):
    """A committed placement: `placement` (p7) of the workload's instance on `node`."""
    placement: str
    instance: int
    node: str
    placed_at: str
    index: int
    generation: int = 0
    replaces: Optional[str] = None
    started_at: Optional[str] = None


@dataclass
class Pending(_Plain):
    """An instance the scheduler cannot place now, and why."""
    instance: int
    reason: str


@dataclass
class Workload:
    """A workload's spec, its placements and its pending instances."""
    name: str
    command: List[str]
    count: int
    cpu: int = 0
    mem: int = 0
    constraints: List[str] = field(default_factory=list)
    strategy: str = "spread"
    restart: str = "on-failure"
    reschedule_after: Optional[float] = None
    on_heal: str = "keep_replacement"
    stop_after_disconnect: Optional[float] = None
    git: Optional[str] = None
    ref: Optional[str] = None
    generation: int = 0
    submitted_index: int = 0
    placements: List[Placement] = field(default_factory=list)
    pending: List[Pending] = field(default_factory=list)

    @classmethod
    def from_json(cls, data):
        return _build(cls, data, placements=_each(Placement.from_json), pending=_each(Pending.from_json))


@dataclass
class Candidate(_Plain):
    """One node's verdict for a workload: excluded and why, or its score."""
    node: str
    instances: int = 0
    excluded: Optional[str] = None
    score: Optional[float] = None


@dataclass
class Why:
    """Where the scheduler would place an instance of a workload, and why."""
    workload: str
    candidates: List[Candidate] = field(default_factory=list)
    pending: List[Pending] = field(default_factory=list)
    instance: Optional[int] = None
    placement: Optional[Placement] = None
    last_move: Optional[str] = None

    @classmethod
    def from_json(cls, data):
        return _build(cls, data, candidates=_each(Candidate.from_json), pending=_each(Pending.from_json),
                      placement=Placement.from_json)


@dataclass
class Instance(_Plain):
    """One instance as `meshctl ps` shows it. A member that did not answer is a row with
    `state` == "unreachable" and empty `workload` and `instance`."""
    workload: str
    instance: str
    node: str
    state: str
    restarts: int = 0
    command: str = ""
    adopted: bool = False
    pid: Optional[int] = None
    started: Optional[str] = None
    cpu: Optional[float] = None
    rss: Optional[int] = None
    detail: Optional[str] = None
    placement: Optional[str] = None

    @property
    def id(self):
        """`NAME.INSTANCE`."""
        return f"{self.workload}.{self.instance}" if self.instance else self.workload


@dataclass
class Event(_Plain):
    """One event of the replicated log."""
    time: str
    kind: str
    node: str
    origin: str
    seq: int
    attributes: Dict[str, str] = field(default_factory=dict)


@dataclass
class Var(_Plain):
    """A mesh-wide variable and the Raft index that last set it."""
    key: str
    value: str
    index: int


@dataclass
class StatsPoint(_Plain):
    """One point of a node's history (`raw`, or `1m`: a one-minute average)."""
    time: str
    resolution: str
    cpu_utilisation: Optional[float] = None
    load1: Optional[float] = None
    memory_available_bytes: Optional[int] = None
    disk_free_bytes: Optional[int] = None
    receive_bytes_per_second: Optional[float] = None
    transmit_bytes_per_second: Optional[float] = None
    temperature_celsius: Optional[float] = None


@dataclass
class NodeStats:
    """A node's latest statistics sample (None where unknown) and its recent history, oldest first."""
    node: str
    time: Optional[str] = None
    cores: Optional[int] = None
    cpu_utilisation: Optional[float] = None
    cpu_per_core: List[Optional[float]] = field(default_factory=list)
    load1: Optional[float] = None
    load5: Optional[float] = None
    load15: Optional[float] = None
    memory_total_bytes: Optional[int] = None
    memory_available_bytes: Optional[int] = None
    swap_total_bytes: Optional[int] = None
    swap_free_bytes: Optional[int] = None
    disk_path: Optional[str] = None
    disk_total_bytes: Optional[int] = None
    disk_free_bytes: Optional[int] = None
    receive_bytes_per_second: Optional[float] = None
    transmit_bytes_per_second: Optional[float] = None
    uptime_seconds: Optional[float] = None
    temperature_celsius: Optional[float] = None
    history: List[StatsPoint] = field(default_factory=list)

    @classmethod
    def from_json(cls, data):
        return _build(cls, data, history=_each(StatsPoint.from_json))


@dataclass
class Committed(_Plain):
    """A change committed through Raft and applied at `index`."""
    index: int
    result: str = "committed"
