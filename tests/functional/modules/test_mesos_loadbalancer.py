"""mesos_loadbalancer.template_data through Salt's loader: it reads each app's
service template (salt:// or a local path) for the ports its SERVICE_TAGS
claim, and hands everything to the rules in _utils/loadbalancer_config.py."""

import pytest
from salt.exceptions import SaltInvocationError

from tests.unit.utils.test_loadbalancer_config import SERVICE_TEMPLATE, lb_settings


def test_ports_come_from_salt_and_local_templates_or_the_explicit_list(loaders, tmp_path):
    local = tmp_path / "cache.json"
    local.write_text(SERVICE_TEMPLATE)
    apps = {
        "cache": {"template": str(local)},
        "test-server": {"template": "salt://mesos/services/test-server.json"},
        "db": {"template": "s3://bucket/db.json", "haproxy": {"ports": [27017]}},
        "remote": {"template": "https://templates.invalid/remote.json"},
    }
    data = loaders.modules.mesos_loadbalancer.template_data(lb_settings(["production"], apps))
    assert data["port_owners"] == {"6379": "cache", "3000": "test-server", "27017": "db"}


def test_problems_are_raised_naming_the_key(loaders):
    settings = lb_settings(chroot="/var/lib/haproxy\n    stats socket ipv4@0.0.0.0:9995")
    with pytest.raises(SaltInvocationError, match="mesos:loadbalancer:chroot"):
        loaders.modules.mesos_loadbalancer.template_data(settings)
