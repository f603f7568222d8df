"""Render a ``$placeholder`` service template into a Marathon app definition.

The substitution itself lives in ``_utils/servicedef.py`` (shared with
``marathon.deploy`` and CI scripts); this renderer only gathers the values.

Where values come from, lowest precedence first:

1. pillar ``servicedef:values`` (a dict), for values common to a minion;
2. the ``context`` keyword (a dict), as Salt passes it to templates;
3. the ``values`` keyword (a dict) and the keywords ``tag``, ``environment``
   and ``instances``.

Without an argument the renderer is the deploy stage: every placeholder must
have a value and the result is the parsed JSON (a dict). ``#!servicedef
partial`` is the build stage: it fills what it has and returns the text with
the other placeholders kept.

.. code-block:: bash

    salt-call slsutil.renderer salt://mesos/services/test-server.json \\
        default_renderer=servicedef tag=v1 environment=staging instances=2
"""

import salt.loader
from salt.exceptions import SaltRenderError

NAMED_VALUES = ("tag", "environment", "instances")


def render(data, saltenv="base", sls="", argline="", **kwargs):
    """Substitute placeholders in ``data`` (text or a file object)."""
    text = data.read() if hasattr(data, "read") else data
    if text is None:
        text = ""
    if text.startswith("#!"):
        # Salt leaves the shebang line in; blank it so line numbers stay true.
        text = text[text.find("\n") :] if "\n" in text else ""
    source = kwargs.get("tmplpath") or sls or "service template"
    values = _collect_values(kwargs)
    servicedef = _servicedef_functions()
    partial = "partial" in argline.split()
    try:
        # A value YAML changed on the way (tag=1.10 is 1.1) is refused, never inserted.
        servicedef["servicedef.inexact_values"](text, values, source=source)
        if partial:
            return servicedef["servicedef.substitute"](text, values, strict=False, source=source)
        return servicedef["servicedef.render"](text, values, source=source)
    except ValueError as exc:
        raise SaltRenderError(str(exc)) from None


def _collect_values(kwargs):
    """Merge the value sources in precedence order (see the module doc)."""
    values = {}
    pillar_values = _pillar().get("servicedef", {}).get("values", {})
    values.update(pillar_values or {})
    values.update(kwargs.get("context") or {})
    values.update(kwargs.get("values") or {})
    for name in NAMED_VALUES:
        if kwargs.get(name) is not None:
            values[name] = kwargs[name]
    return values


def _pillar():
    try:
        return __pillar__ or {}
    except NameError:
        # slsutil.renderer builds its render loader without pillar.
        return __opts__.get("pillar") or {}


def _servicedef_functions():
    # Renderers get no __utils__ from Salt's loader, so build the utils loader
    # once per process; it finds _utils/servicedef.py like the modules do.
    cache = __context__.setdefault("servicedef.utils", {})
    if "loader" not in cache:
        cache["loader"] = salt.loader.utils(__opts__)
    return cache["loader"]
