"""A Python client of the meshd HTTP API (standard library only).

    from meshd import Mesh
    m = Mesh("http://127.0.0.1:7601")      # or Mesh(): $MESH_ADDR, then 127.0.0.1:7601
    m.members(); m.status(); m.run("web", "sleep 1000", count=3); m.instances("web")
    for line in m.logs("web.0", follow=True): print(line, end="")
"""

from .client import Mesh
from .errors import (BadRequest, Conflict, Forbidden, GatewayTimeout, MeshError, MeshUnreachable, NotFound,
                     Unauthorized, Unavailable)
from .types import (Candidate, Committed, Coordinate, Event, Instance, Member, NodeStats, Pending, Placement,
                    StatsPoint, Status, Var, VoterHealth, Why, Workload)

__all__ = ["Mesh", "MeshError", "MeshUnreachable", "BadRequest", "Unauthorized", "Forbidden", "NotFound", "Conflict",
           "Unavailable", "GatewayTimeout", "Member", "Coordinate", "Status", "VoterHealth", "Workload", "Placement",
           "Pending", "Why", "Candidate", "Instance", "Event", "Var", "NodeStats", "StatsPoint", "Committed"]
