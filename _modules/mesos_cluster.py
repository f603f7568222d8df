"""Cluster provisioning values for the formula's role and component states.

The rules live in ``_utils/mesos_cluster.py`` (pillar checks, values derived
from ``mesos:master_nodes``) and ``_utils/mesos_components.py`` (each
component's files and service). The SLS files call these functions while
they render, with the settings map.jinja merged, so a bad pillar fails the
run with every problem named before any state runs.

Called without ``settings`` (from the command line), the settings are
merged the way map.jinja does: salt://mesos/defaults.yaml, then pillar
``mesos:lookup``, then pillar ``mesos``.
"""

import yaml
from salt.exceptions import SaltInvocationError

__virtualname__ = "mesos_cluster"


def __virtual__():  # noqa: N807 - the name Salt's loader calls
    return __virtualname__


def _formula_file(name):
    text = __salt__["cp.get_file_str"](f"salt://mesos/{name}")
    if not text:
        raise SaltInvocationError(f"salt://mesos/{name} was not found on the file server")
    return yaml.safe_load(text)


def _settings(settings):
    """map.jinja's merge: defaults, the OS family's parameters, lookup, pillar."""
    if settings is not None:
        return settings
    merged = _formula_file("defaults.yaml")["mesos"]
    os_family = __grains__.get("os_family", "")
    family = _formula_file("osfamilymap.yaml").get(os_family)
    if family is None:
        raise SaltInvocationError(
            f"mesos formula: OS family {os_family} is not supported (Debian family only)"
        )
    merged = __salt__["slsutil.merge"](merged, family, strategy="recurse")
    for layer in ("mesos:lookup", "mesos"):
        # Salt 3008 masks pillar values for command-line output unless told.
        layer_values = __salt__["pillar.get"](layer, {}, unmask=True)
        merged = __salt__["slsutil.merge"](merged, layer_values, strategy="recurse")
    merged.pop("lookup", None)
    return merged


def _node(settings, node):
    return node or settings.get("node_name") or __grains__["id"]


def _roles(settings, roles):
    if roles is not None:
        return roles
    return settings.get("roles") or __grains__.get("mesos", {}).get("roles") or []


def check(settings=None, node=None, roles=None):
    """
    Check the pillar for this host and its roles. Returns True, or raises
    SaltInvocationError naming every problem at once (an empty
    ``mesos:master_nodes``, an address given twice, a
    ``docker_stop_timeout`` not shorter than the grace period, an unknown
    role, ...).

    CLI Example:

    .. code-block:: bash

        salt-call mesos_cluster.check
        salt-call mesos_cluster.check roles='[master, lb-internal]'
    """
    settings = _settings(settings)
    __utils__["mesos_cluster.check"](settings, _node(settings, node), _roles(settings, roles))
    return True


def values(settings=None, node=None, roles=None):
    """
    The values this host derives from pillar: the ZooKeeper ensemble and its
    own id, the ZooKeeper URLs, the Mesos quorum, the Consul servers and join
    addresses, the Marathon URLs, its address and roles.

    CLI Example:

    .. code-block:: bash

        salt-call mesos_cluster.values
        salt-call mesos_cluster.values node=mesos-master-2
    """
    settings = _settings(settings)
    return __utils__["mesos_cluster.host_values"](
        settings, _node(settings, node), _roles(settings, roles)
    )


def component(name, settings=None, node=None):
    """
    The files (path, contents, mode) and the service of one component on this
    host: zookeeper, mesos_common, mesos_master, mesos_agent, marathon,
    chronos, consul, docker or registrator. The service's ``watch`` lists
    exactly the states whose change restarts (or reloads) it.

    CLI Example:

    .. code-block:: bash

        salt-call mesos_cluster.component zookeeper
        salt-call mesos_cluster.component consul node=mesos-master-1
    """
    settings = _settings(settings)
    host = __utils__["mesos_cluster.host_values"](settings, _node(settings, node))
    return __utils__["mesos_components.component"](name, settings, host)


def component_paths(name, settings=None):
    """
    The files and directories component ``name`` lays down, and its service,
    without checking pillar: what its clean state removes.

    CLI Example:

    .. code-block:: bash

        salt-call mesos_cluster.component_paths mesos_agent
    """
    return __utils__["mesos_components.component_paths"](name, _settings(settings))
