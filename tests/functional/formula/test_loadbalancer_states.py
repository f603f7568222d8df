"""mesos.loadbalancer and mesos.consul_template applied with salt-call into a
scratch root: what lands on disk, test mode, idempotence, secrets, bad pillar.
"""

import copy
import json
import os
import re
import stat

import pytest

from tests.loadbalancer_support import (
    haproxy_check,
    scratch_pillar,
    self_signed_certificate,
    state_results,
    template_path,
)

TOKEN = "s3cr3t-consul-token-5b1e"


def apply(salt_call, pillar, test=False):
    salt_call.set_pillar(pillar)
    arguments = ["state.apply", "mesos.loadbalancer"]
    if test:
        arguments.append("test=True")
    result = salt_call.run(*arguments)
    return result, state_results(result)


def changed(results):
    return sorted(value["__id__"] for value in results.values() if value["changes"])


def files_under(root):
    return sorted(
        os.path.relpath(os.path.join(directory, name), root)
        for directory, _, names in os.walk(root)
        for name in names
    )


@pytest.mark.parametrize("role", ["internal", "external"])
def test_lays_down_the_role_in_test_mode_then_for_real_then_changes_nothing(
    salt_call, tmp_path, role
):
    root = tmp_path / "root"
    pillar = scratch_pillar(root, role=role)
    if role == "external":
        self_signed_certificate(root / "etc/haproxy/certs/site.pem")

    result, predicted = apply(salt_call, pillar, test=True)
    assert result.returncode == 0, result
    # Only the certificate check (a file that is there) is already as specified.
    assert {value["result"] for value in predicted.values()} <= {None, True}
    assert predicted[next(k for k in predicted if "-template_|-" in k)]["result"] is None
    template_id = f"mesos-loadbalancer-{role}-template"
    assert template_id in changed(predicted)
    assert not root.exists() or files_under(root) in ([], ["etc/haproxy/certs/site.pem"])

    result, applied = apply(salt_call, pillar)
    assert result.returncode == 0, result
    assert all(value["result"] is True for value in applied.values()), applied
    assert set(changed(applied)) >= {
        template_id,
        "mesos-consul-template-config",
        "mesos-consul-template-unit",
    }

    source = template_path(root, role).read_text()
    # Jinja fully evaluated, Go actions left for consul-template.
    assert "[[" not in source and "{%" not in source and "{#" not in source
    assert "{{- range services -}}" in source
    assert 'keyOrDefault "service/haproxy/maxconn" "4096"' in source
    public = ("frontend external_https_in", "acl host_staging:test-server")
    assert all((line in source) == (role == "external") for line in public)

    result, again = apply(salt_call, pillar)
    assert result.returncode == 0, result
    assert changed(again) == []


def test_consul_template_renders_the_candidate_and_runs_the_reload_script(salt_call, tmp_path):
    root = tmp_path / "root"
    result, _ = apply(salt_call, scratch_pillar(root, role="internal"))
    assert result.returncode == 0, result

    config = (root / "etc/consul-template/config.hcl").read_text()
    assert re.search(
        rf'source\s+= "{root}/etc/consul-template/templates/haproxy-internal.ctmpl"', config
    )
    # The destination is the candidate: the live config is only ever written
    # by the reload script after `haproxy -c` accepted the candidate.
    assert re.search(rf'destination\s+= "{root}/etc/haproxy/haproxy.cfg.candidate"', config)
    command = json.loads(re.search(r"command = (\[.*\])", config).group(1))
    assert command[0] == f"{root}/usr/local/sbin/mesos-haproxy-reload"
    assert command[command.index("--candidate") + 1] == f"{root}/etc/haproxy/haproxy.cfg.candidate"
    assert command[command.index("--config") + 1] == f"{root}/etc/haproxy/haproxy.cfg"
    for setting in ("perms", "backup", "create_dest_dirs", "min", "max", "timeout"):
        assert re.search(rf"^\s*{setting}\s+= ", config, re.M), setting
    unit = (root / "etc/systemd/system/consul-template.service").read_text()
    assert f"-config={root}/etc/consul-template/config.hcl" in unit


def test_consul_token_lands_in_a_private_file_and_nowhere_in_the_output(salt_call, tmp_path):
    root = tmp_path / "root"
    pillar = scratch_pillar(root)
    pillar["consul"]["token"] = TOKEN
    first, _ = apply(salt_call, pillar)
    pillar["consul"]["token"] = TOKEN + "-rotated"
    second, results = apply(salt_call, pillar)

    assert first.returncode == 0 and second.returncode == 0, (first, second)
    assert "mesos-consul-template-config" in changed(results)
    for result in (first, second):
        assert TOKEN not in json.dumps(result.data) and TOKEN not in result.stderr
    config = root / "etc/consul-template/config.hcl"
    assert f'token   = "{TOKEN}-rotated"' in config.read_text()
    assert stat.S_IMODE(config.stat().st_mode) == 0o600


INJECTED = "\n    stats socket ipv4@0.0.0.0:9995 level admin"

BAD_PILLARS = {
    "unknown role": (
        {"loadbalancer": {"role": "middle"}},
        "mesos:loadbalancer:role must be internal or external, not 'middle'",
    ),
    "health check path with a space": (
        {"apps": {"web": {"haproxy": {"health_check": "/health check"}}}},
        "mesos:apps:web:haproxy:health_check must be a path without spaces",
    ),
    "health check path with a comment sign": (
        {"apps": {"web": {"haproxy": {"health_check": "/health#check"}}}},
        "mesos:apps:web:haproxy:health_check must be a path without spaces",
    ),
    "health check path with a trailing newline": (
        {"apps": {"web": {"haproxy": {"health_check": "/health\n"}}}},
        "mesos:apps:web:haproxy:health_check must be a path without spaces",
    ),
    "timeout not a duration": (
        {"loadbalancer": {"timeouts": {"client": "forever"}}},
        "mesos:loadbalancer:timeouts:client must be a duration, not 'forever'",
    ),
    "check timing not a number": (
        {"apps": {"web": {"haproxy": {"check": {"fall": "often"}}}}},
        "mesos:apps:web:haproxy:fall must be a positive number, not 'often'",
    ),
    "external host with a space": (
        {"apps": {"web": {"haproxy": {"external_host": "web .example.com"}}}},
        "mesos:apps:web:haproxy:external_host must be a host name",
    ),
    "two fixed frontends on one port": (
        {"loadbalancer": {"wellknown_services": {"chronos": {"listen_port": 18080}}}},
        "port 18080 is used by two fixed frontends",
    ),
    "environment without a port prefix": (
        {"environments": ["production", "qa"]},
        "environment_port_prefixes:qa must be empty or one digit",
    ),
    "environment name the platform cannot use": (
        {"environments": ["production", "prod_eu"]},
        "environment name 'prod_eu' is not valid",
    ),
    "log target with an injected line": (
        {"loadbalancer": {"log": ["/dev/log local0" + INJECTED]}},
        "mesos:loadbalancer:log must be",
    ),
    "chroot with an injected line": (
        {"loadbalancer": {"chroot": "/var/lib/haproxy" + INJECTED}},
        "mesos:loadbalancer:chroot must be an absolute path",
    ),
    "user with an injected line": (
        {"haproxy": {"user": "haproxy" + INJECTED}},
        "mesos:haproxy:user must be a user or group name",
    ),
    "group with an injected line": (
        {"haproxy": {"group": "haproxy" + INJECTED}},
        "mesos:haproxy:group must be a user or group name",
    ),
    "host prefix with an injected line": (
        {"loadbalancer": {"external": {"host_prefixes": {"staging": "staging-" + INJECTED}}}},
        "mesos:loadbalancer:external:host_prefixes:staging must be",
    ),
    "well-known port with an injected line": (
        {"loadbalancer": {"wellknown_services": {"marathon": {"port": "8080" + INJECTED}}}},
        "mesos:loadbalancer:wellknown_services:marathon:port must be a TCP port",
    ),
    "stats socket with an injected line": (
        {"haproxy": {"stats_socket": "/run/haproxy/admin.sock" + INJECTED}},
        "mesos:haproxy:stats_socket must be an absolute path",
    ),
    "hard-stop-after with a trailing newline": (
        {"haproxy": {"hard_stop_after": "30s\n"}},
        "mesos:haproxy:hard_stop_after must be a duration",
    ),
    "mworker-max-reloads with an injected line": (
        {"haproxy": {"mworker_max_reloads": "50" + INJECTED}},
        "mesos:haproxy:mworker_max_reloads must be a positive number",
    ),
    "a port given to two apps": (
        {"apps": {"one": {"haproxy": {"ports": [3000]}}, "two": {"haproxy": {"ports": [3000]}}}},
        "mesos:apps:two: port 3000 (production) is also given to app one",
    ),
    "the old single bind address": (
        {"loadbalancer": {"bind_address": "0.0.0.0"}},
        "mesos:loadbalancer:bind_address is replaced by mesos:loadbalancer:bind_addresses",
    ),
    "a bind address that is not one": (
        {"loadbalancer": {"bind_addresses": ["127.0.0.1", "0.0.0.0:80"]}},
        "mesos:loadbalancer:bind_addresses must be an IP address, not '0.0.0.0:80'",
    ),
}


def merge(base, overrides):
    """Merge ``overrides`` into ``base`` (a deep copy of scratch_pillar's shared data)."""
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)


@pytest.mark.parametrize("case", sorted(BAD_PILLARS))
def test_bad_pillar_fails_naming_the_cause_and_writes_nothing(salt_call, tmp_path, case):
    overrides, message = BAD_PILLARS[case]
    root = tmp_path / "root"
    pillar = copy.deepcopy(scratch_pillar(root, role="internal"))
    merge(pillar["mesos"], overrides)
    salt_call.set_pillar(pillar)
    result = salt_call.run("state.apply", "mesos.loadbalancer")

    assert result.returncode != 0
    assert message in json.dumps(result.data), result.data
    assert not root.exists() or files_under(root) == []


def test_every_problem_is_named_at_once(salt_call, tmp_path):
    root = tmp_path / "root"
    pillar = copy.deepcopy(scratch_pillar(root, role="internal"))
    merge(pillar["mesos"], {**BAD_PILLARS["chroot with an injected line"][0]})
    merge(pillar["mesos"], {**BAD_PILLARS["stats socket with an injected line"][0]})
    salt_call.set_pillar(pillar)
    result = salt_call.run("state.apply", "mesos.loadbalancer")
    text = json.dumps(result.data)
    assert result.returncode != 0
    assert "mesos:loadbalancer:chroot" in text and "mesos:haproxy:stats_socket" in text


def test_external_role_without_its_certificate_fails_naming_file_and_key(salt_call, tmp_path):
    root = tmp_path / "root"
    salt_call.set_pillar(scratch_pillar(root, role="external"))
    result = salt_call.run("state.apply", "mesos.loadbalancer")

    assert result.returncode != 0
    failed = [value["comment"] for value in state_results(result).values() if not value["result"]]
    certificate = f"{root}/etc/haproxy/certs/site.pem"
    assert any(
        certificate in comment and "mesos:loadbalancer:external:certificate" in comment
        for comment in failed
    ), failed
    assert not template_path(root, "external").exists()


def test_external_role_can_make_a_self_signed_certificate_haproxy_accepts(salt_call, tmp_path):
    root = tmp_path / "root"
    pillar = scratch_pillar(
        root, role="external", loadbalancer={"external": {"self_signed": "mesos-test.domain.com"}}
    )
    result, applied = apply(salt_call, pillar)
    assert result.returncode == 0, result
    assert all(value["result"] is True for value in applied.values()), applied
    certificate = root / "etc/haproxy/certs/site.pem"
    assert "BEGIN CERTIFICATE" in certificate.read_text()
    assert stat.S_IMODE((root / "etc/haproxy/certs/site.pem.key").stat().st_mode) == 0o600
    assert "PRIVATE KEY" not in json.dumps(result.data)

    # HAProxy loads the key from <certificate>.key: the public frontend's bind line passes.
    check = tmp_path / "check.cfg"
    check.write_text(
        "defaults\n    mode http\n    timeout client 1s\n    timeout server 1s\n"
        "    timeout connect 1s\nfrontend public\n"
        f"    bind 127.0.0.1:8443 ssl crt {certificate}\n"
    )
    ok, output = haproxy_check(check)
    assert ok, output

    result, again = apply(salt_call, pillar)
    assert result.returncode == 0, result
    assert changed(again) == []
