"""Consul HTTP API stand-in: KV, transactions, catalog, health, agent services.

``python -m sandbox consul --port 8500 [--token T]`` serves it in the
foreground; tests start ``ConsulServer(...)`` in a thread. Behaviour follows
docs/api-notes.md: the X-Consul-* headers on every read (404 too),
blocking queries, the 512 KiB value limit, newer Consul's key rules, and an
ACL token (when one is set) from ``X-Consul-Token``, ``?token=`` or
``Authorization: Bearer``.
"""

from sandbox.httpserver import StandInServer

from .handler import ConsulHandler
from .state import ConsulState

__all__ = ["ConsulServer", "add_arguments", "serve"]


class ConsulServer(StandInServer):
    """A stand-in Consul agent+server; ``token=None`` means ACLs are off."""

    def __init__(self, host="127.0.0.1", port=0, token=None, node="consul-sandbox"):
        super().__init__(ConsulHandler, host=host, port=port)
        self.token = token
        self.node = node
        self.state = ConsulState(node=node, address=host)
        self.state.start()

    def reset(self):
        """Start over with empty KV and catalog, like a fresh dev agent."""
        old = self.state
        self.state = ConsulState(node=self.node, address=old.catalog.address)
        self.state.start()
        old.close()

    def stop(self):
        # Wake blocked queries first so shutdown does not wait on them.
        self.state.close()
        super().stop()


def add_arguments(parser):
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8500, help="port (0 picks a free one)")
    parser.add_argument("--token", default=None, help="ACL token every request must carry")
    parser.add_argument("--node", default="consul-sandbox", help="node name in the catalog")


def serve(args):
    server = ConsulServer(host=args.host, port=args.port, token=args.token, node=args.node)
    print(f"consul stand-in listening on {server.url}", flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        server.state.close()
        server.server_close()
    return 0
