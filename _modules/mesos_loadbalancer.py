"""The load balancer's pillar checks and template data, for mesos.loadbalancer.

The rules live in ``_utils/loadbalancer_config.py`` (pure functions, unit
tested); this module only reads what they need from the minion: each app's
service template, for the ports its ``SERVICE_TAGS`` claim.
"""

import os
import urllib.parse

__virtualname__ = "mesos_loadbalancer"


def __virtual__():  # noqa: N807 - the name Salt's loader calls
    return __virtualname__


def template_data(mesos=None, saltenv="base"):
    """
    Check the load balancer's settings and return the data its consul-template
    templates are filled with. Every problem (a value that does not fully
    match its rule, a port given to two apps, a bad name) is reported at once,
    naming its pillar key, before anything is written.

    mesos
        The merged ``mesos`` settings; ``salt/mesos/loadbalancer.sls`` passes
        map.jinja's (defaults.yaml, ``mesos:lookup``, pillar ``mesos``).
        Default: pillar ``mesos`` alone.
    saltenv
        Where ``salt://`` service templates are read from.

    An app's ports come from ``mesos:apps:<app>:haproxy:ports`` or, without
    that list, from the ``internal-listen-*`` tags in the ``SERVICE_TAGS`` of
    its ``salt://`` or local service template.

    CLI Example:

    .. code-block:: bash

        salt-call mesos_loadbalancer.template_data
    """
    if mesos is None:
        mesos = __salt__["pillar.get"]("mesos", {})
    texts = {}
    apps = mesos.get("apps") or {}
    for app, spec in apps.items() if isinstance(apps, dict) else ():
        # Shapes are checked (and reported) by the rules, not here.
        haproxy = spec.get("haproxy") if isinstance(spec, dict) else None
        if isinstance(spec, dict) and "ports" not in (haproxy or {}) and spec.get("template"):
            texts[app] = _service_template(spec["template"], saltenv)
    return __utils__["loadbalancer_config.template_data"](mesos, texts)


def _service_template(location, saltenv):
    """The template's text, or None where it cannot be read without the network."""
    if not isinstance(location, str):
        return None
    scheme = urllib.parse.urlsplit(location).scheme
    if scheme == "salt":
        return __salt__["cp.get_file_str"](location, saltenv=saltenv) or None
    if scheme in ("", "file"):
        path = urllib.parse.urlsplit(location).path if scheme else location
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as handle:
                return handle.read()
    return None
