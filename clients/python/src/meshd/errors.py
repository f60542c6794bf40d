"""Errors of the meshd client: the API's refusals with their reason and HTTP status, and an
agent that could not be reached."""


class MeshError(Exception):
    """The agent refused or failed a request: `status` is the HTTP status, `error` the API's
    short reason (`not_found`, `refused`, `bad_request`, ...), `detail` its sentence."""

    def __init__(self, status, error, detail, method, path):
        self.status = status
        self.error = error
        self.detail = detail
        self.method = method
        self.path = path
        super().__init__(f"{detail or error} ({error}, HTTP {status}; {method} {path})")


class BadRequest(MeshError):
    """400: a bad body, query or name."""


class Unauthorized(MeshError):
    """401: this API needs a token (`Mesh(..., token=SECRET)` or MESH_TOKEN), or the token is unknown."""


class Forbidden(MeshError):
    """403: the token's role does not cover the route."""


class NotFound(MeshError):
    """404: no such workload, instance, member, variable or key."""


class Conflict(MeshError):
    """409: refused by the agent or the control state (the reason in `detail`)."""


class Unavailable(MeshError):
    """503: no leader for a linearizable read or a write, or a member that cannot be asked."""


class GatewayTimeout(MeshError):
    """504: a write or a member did not answer in time."""


BY_STATUS = {400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict,
             503: Unavailable, 504: GatewayTimeout}


class MeshUnreachable(MeshError):
    """The agent could not be reached at all (not running, wrong address)."""

    def __init__(self, url, reason):
        self.url = url
        self.reason = reason
        Exception.__init__(self, f"cannot reach the agent at {url}: {reason}; is meshd running there? "
                                 "(Mesh(URL) or MESH_ADDR names another)")
        self.status = None
        self.error = "unreachable"
        self.detail = str(reason)
        self.method = None
        self.path = None
