"""The agent and catalog of the Consul stand-in: one node, its services and
checks, and the views the catalog and health endpoints answer with.

Callers hold the state lock and pass the raft index of a write. Each service
name carries its own index (moved by its instances and their checks, as
Consul's per-service index is) and the services table has one for
``/v1/catalog/services``.
"""

import re
import uuid
from dataclasses import dataclass, field

from . import shapes

STATUSES = ("passing", "warning", "critical")
DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


class CatalogError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def parse_duration(text):
    """Seconds in a Go duration ("10s", "1m30s", "250ms"); None if malformed."""
    if not isinstance(text, str) or not text:
        return None
    if text == "0":
        return 0.0
    parts = DURATION_PART.findall(text)
    if "".join(number + unit for number, unit in parts) != text:
        return None
    return sum(float(number) * DURATION_UNITS[unit] for number, unit in parts)


@dataclass
class Service:
    id: str
    name: str
    tags: list
    address: str
    port: int
    meta: dict
    create_index: int = 0
    modify_index: int = 0

    def definition(self):
        return (self.name, tuple(self.tags), self.address, self.port, sorted(self.meta.items()))


@dataclass
class Check:
    id: str
    name: str
    kind: str  # "ttl", "http", "tcp" or "" for the node's serfHealth
    status: str
    service_id: str = ""
    notes: str = ""
    output: str = ""
    target: str = ""  # the HTTP URL or host:port a probe checks
    interval: float = 0.0
    timeout: float = 10.0
    ttl: float = 0.0
    create_index: int = 0
    modify_index: int = 0
    # Runtime bookkeeping for TTL expiry and probes (monotonic seconds).
    due: float = field(default=0.0, compare=False)

    def definition(self):
        return (self.name, self.kind, self.service_id, self.target, self.interval, self.ttl)


def lower_keys(mapping, what):
    if not isinstance(mapping, dict):
        raise CatalogError(400, f"Request decode failed: {what} must be an object")
    return {str(key).lower(): value for key, value in mapping.items()}


def require_type(value, expected, what):
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise CatalogError(400, f"Request decode failed: {what} has the wrong type")
    return value


def parse_check(raw, default_id, default_name, service_id, now):
    """A Check from a registration's check definition (key case ignored)."""
    spec = lower_keys(raw, "Check")
    if "args" in spec or "script" in spec:
        raise CatalogError(400, "Scripts are disabled on this agent; use TTL, HTTP or TCP")
    status = spec.get("status") or "critical"
    if status not in STATUSES:
        raise CatalogError(400, f"Status for checks must be passing, warning or critical: {status}")
    check = Check(
        id=require_type(spec.get("checkid") or spec.get("id") or default_id, str, "CheckID"),
        name=require_type(spec.get("name") or default_name, str, "Name"),
        kind="",
        status=status,
        service_id=require_type(spec.get("serviceid") or service_id, str, "ServiceID"),
        notes=require_type(spec.get("notes") or "", str, "Notes"),
    )
    if spec.get("ttl"):
        check.kind, check.ttl = "ttl", parse_duration(spec["ttl"])
        if not check.ttl:
            raise CatalogError(400, "Invalid check: TTL must be > 0 for TTL checks")
        check.due = now + check.ttl
        return check
    for kind in ("http", "tcp"):
        if spec.get(kind):
            check.kind, check.target = kind, require_type(spec[kind], str, kind.upper())
            check.interval = parse_duration(spec.get("interval") or "") or 0.0
            if check.interval <= 0:
                raise CatalogError(400, "Interval must be > 0 for Script, HTTP, or TCP checks")
            check.timeout = parse_duration(spec.get("timeout") or "10s") or 10.0
            check.due = now  # the first probe runs right away
            return check
    raise CatalogError(400, "Invalid check: one of TTL, HTTP or TCP is required")


class Catalog:
    def __init__(self, node, address, index, now):
        self.node = node
        self.address = address
        self.node_id = str(uuid.uuid4())
        self.services = {}
        self.checks = {}
        # Lookups by service name and by service id ("" for node checks), so
        # a health query costs the size of its answer, not of the catalog.
        self.services_by_name = {}
        self.checks_by_service = {}
        self.services_table_index = index
        self.service_indexes = {}
        self.node_index = index
        # A Consul server lists itself as the "consul" service.
        self.put_service(Service("consul", "consul", [], "", 8300, {}, index, index))
        self.service_indexes["consul"] = index
        serf = Check("serfHealth", "Serf Health Status", "", "passing", create_index=index)
        serf.modify_index, serf.output = index, "Agent alive and reachable"
        self.put_check(serf)

    # Storage with the lookup tables kept in step ----------------------------

    def put_service(self, service):
        self.drop_service(service.id)
        self.services[service.id] = service
        self.services_by_name.setdefault(service.name, {})[service.id] = service

    def drop_service(self, service_id):
        service = self.services.pop(service_id, None)
        if service is not None:
            same_name = self.services_by_name[service.name]
            del same_name[service_id]
            if not same_name:
                del self.services_by_name[service.name]
        return service

    def put_check(self, check):
        self.drop_check(check.id)
        self.checks[check.id] = check
        self.checks_by_service.setdefault(check.service_id, {})[check.id] = check

    def drop_check(self, check_id):
        check = self.checks.pop(check_id, None)
        if check is not None:
            del self.checks_by_service[check.service_id][check_id]
        return check

    # Writes --------------------------------------------------------------

    def touch_service(self, name, index):
        self.service_indexes[name] = index

    def touch_all_services(self, index):
        for name in {service.name for service in self.services.values()}:
            self.service_indexes[name] = index

    def register_service(self, payload, index, now, replace_existing_checks=False):
        spec = lower_keys(payload, "service definition")
        name = require_type(spec.get("name") or "", str, "Name")
        if not name:
            raise CatalogError(400, "Missing service name")
        service = Service(
            id=require_type(spec.get("id") or name, str, "ID"),
            name=name,
            tags=list(require_type(spec.get("tags") or [], list, "Tags")),
            address=require_type(spec.get("address") or "", str, "Address"),
            port=require_type(spec.get("port") or 0, int, "Port"),
            meta=dict(require_type(spec.get("meta") or {}, dict, "Meta")),
        )
        if not all(isinstance(tag, str) for tag in service.tags):
            raise CatalogError(400, "Request decode failed: Tags must be strings")
        if not 0 <= service.port <= 65535:
            raise CatalogError(400, f"Invalid service port {service.port}")
        checks = self.parse_service_checks(spec, service, now)
        self.store_service(service, index)
        self.store_service_checks(service, checks, index, replace_existing_checks)

    def parse_service_checks(self, spec, service, now):
        raw_checks = []
        if spec.get("check"):
            raw_checks.append(spec["check"])
        raw_checks.extend(require_type(spec.get("checks") or [], list, "Checks"))
        default_name = f"Service '{service.name}' check"
        checks = []
        for number, raw in enumerate(raw_checks, start=1):
            default_id = f"service:{service.id}"
            if len(raw_checks) > 1:
                default_id += f":{number}"
            check = parse_check(raw, default_id, default_name, service.id, now)
            checks.append((check, "status" in lower_keys(raw, "Check")))
        return checks

    def store_service(self, service, index):
        existing = self.services.get(service.id)
        if existing is not None and existing.definition() == service.definition():
            return
        service.create_index = existing.create_index if existing else index
        service.modify_index = index
        if existing is not None and existing.name != service.name:
            self.touch_service(existing.name, index)
        self.put_service(service)
        self.services_table_index = index
        self.touch_service(service.name, index)

    def store_service_checks(self, service, checks, index, replace_existing_checks):
        wanted = {check.id for check, _ in checks}
        if replace_existing_checks:
            for check in self.checks_of(service.id):
                if check.id not in wanted:
                    self.remove_check(check.id, index)
        for check, explicit_status in checks:
            self.store_check(check, index, explicit_status)

    def store_check(self, check, index, explicit_status=True):
        existing = self.checks.get(check.id)
        if existing is not None:
            if existing.definition() == check.definition() and (
                not explicit_status or existing.status == check.status
            ):
                return
            if not explicit_status:
                # Consul restores a re-registered check's last known status.
                check.status, check.output = existing.status, existing.output
            check.create_index = existing.create_index
        else:
            check.create_index = index
        check.modify_index = index
        self.put_check(check)
        self.touch_for_check(check, index)

    def register_check(self, payload, index, now):
        spec = lower_keys(payload, "check definition")
        name = spec.get("name") or ""
        if not name:
            raise CatalogError(400, "Missing check name")
        check = parse_check(payload, name, name, "", now)
        if check.service_id and check.service_id not in self.services:
            raise CatalogError(400, f'ServiceID "{check.service_id}" does not exist')
        self.store_check(check, index, explicit_status="status" in spec)

    def touch_for_check(self, check, index):
        if check.service_id:
            service = self.services.get(check.service_id)
            if service is not None:
                self.touch_service(service.name, index)
        else:
            # A node check changes the health of every service on the node.
            self.node_index = index
            self.touch_all_services(index)

    def deregister_service(self, service_id, index):
        service = self.services.get(service_id)
        if service is None:
            raise CatalogError(404, f'Unknown service ID "{service_id}"')
        for check in self.checks_of(service_id):
            self.drop_check(check.id)
        self.drop_service(service_id)
        self.services_table_index = index
        self.touch_service(service.name, index)

    def remove_check(self, check_id, index):
        check = self.drop_check(check_id)
        if check is None:
            raise CatalogError(404, f'Unknown check ID "{check_id}"')
        self.touch_for_check(check, index)

    def set_check_status(self, check_id, status, output, index, now, require_ttl=True):
        """Returns True when the status or output really changed."""
        check = self.checks.get(check_id)
        if check is None:
            raise CatalogError(404, f'Unknown check ID "{check_id}"')
        if require_ttl and check.kind != "ttl":
            raise CatalogError(500, f'CheckID "{check_id}" does not have associated TTL')
        if check.kind == "ttl":
            check.due = now + check.ttl
        if check.status == status and check.output == output:
            return False
        check.status, check.output, check.modify_index = status, output, index
        self.touch_for_check(check, index)
        return True

    # Reads ---------------------------------------------------------------

    def checks_of(self, service_id):
        checks = self.checks_by_service.get(service_id, {}).values()
        return sorted(checks, key=lambda check: check.id)

    def instances(self, name, tags):
        found = [
            service
            for service in self.services_by_name.get(name, {}).values()
            if all(tag in service.tags for tag in tags)
        ]
        return sorted(found, key=lambda service: service.id)

    def service_index(self, name):
        return self.service_indexes.get(name, self.services_table_index)

    def services_listing(self):
        listing = {}
        for service in self.services.values():
            listing.setdefault(service.name, set()).update(service.tags)
        body = {name: sorted(tags) for name, tags in sorted(listing.items())}
        return self.services_table_index, body

    def catalog_service(self, name, tags):
        rows = [shapes.catalog_row(self, service) for service in self.instances(name, tags)]
        return self.service_index(name), rows

    def health_service(self, name, tags, passing_only):
        rows = []
        node_checks = self.checks_of("")
        for service in self.instances(name, tags):
            checks = node_checks + self.checks_of(service.id)
            if passing_only and any(check.status != "passing" for check in checks):
                continue
            rows.append(
                {
                    "Node": shapes.node_json(self),
                    "Service": shapes.service_json(service),
                    "Checks": [shapes.check_json(self, check) for check in checks],
                }
            )
        return self.service_index(name), rows
