"""JSON shapes of the Consul stand-in's catalog, health and agent answers
(docs/api-notes.md); ``catalog`` is a :class:`.catalog.Catalog`."""


def node_json(catalog):
    addresses = {"lan": catalog.address, "lan_ipv4": catalog.address}
    addresses.update({"wan": catalog.address, "wan_ipv4": catalog.address})
    return {
        "ID": catalog.node_id,
        "Node": catalog.node,
        "Address": catalog.address,
        "Datacenter": "dc1",
        "TaggedAddresses": addresses,
        "Meta": {"consul-network-segment": ""},
        "CreateIndex": 1,
        "ModifyIndex": catalog.node_index,
    }


def service_json(service):
    return {
        "ID": service.id,
        "Service": service.name,
        "Tags": list(service.tags),
        "Address": service.address,
        "Meta": dict(service.meta),
        "Port": service.port,
        "Weights": {"Passing": 1, "Warning": 1},
        "EnableTagOverride": False,
        "CreateIndex": service.create_index,
        "ModifyIndex": service.modify_index,
    }


def catalog_row(catalog, service):
    node = node_json(catalog)
    return {
        "ID": node["ID"],
        "Node": node["Node"],
        "Address": node["Address"],
        "Datacenter": node["Datacenter"],
        "TaggedAddresses": node["TaggedAddresses"],
        "NodeMeta": node["Meta"],
        "ServiceKind": "",
        "ServiceID": service.id,
        "ServiceName": service.name,
        "ServiceTags": list(service.tags),
        "ServiceAddress": service.address,
        "ServiceWeights": {"Passing": 1, "Warning": 1},
        "ServiceMeta": dict(service.meta),
        "ServicePort": service.port,
        "ServiceEnableTagOverride": False,
        "CreateIndex": service.create_index,
        "ModifyIndex": service.modify_index,
    }


def check_json(catalog, check):
    service = catalog.services.get(check.service_id)
    return {
        "Node": catalog.node,
        "CheckID": check.id,
        "Name": check.name,
        "Status": check.status,
        "Notes": check.notes,
        "Output": check.output,
        "ServiceID": check.service_id,
        "ServiceName": service.name if service else "",
        "ServiceTags": list(service.tags) if service else [],
        "Type": check.kind,
        "Definition": {},
        "CreateIndex": check.create_index,
        "ModifyIndex": check.modify_index,
    }


def agent_services(catalog):
    return {
        service.id: service_json(service) | {"Datacenter": "dc1"}
        for service in catalog.services.values()
        if service.id != "consul"
    }


def agent_checks(catalog):
    return {check.id: check_json(catalog, check) for check in catalog.checks.values()}
