{#- consul-template on a load balancer host: renders mesos.loadbalancer's
    template (mesos:loadbalancer:role) into HAProxy's CANDIDATE config and
    runs the reload script on it, which validates the candidate with
    `haproxy -c`, installs it as the live config and reloads HAProxy. An
    invalid candidate is refused and the last good config keeps serving.
    The Consul address and token come from `consul:url` / `consul:token`
    (config.get, like the execution modules). -#}
{%- from "mesos/map.jinja" import mesos, rooted with context %}
{%- from "mesos/files/haproxy-global.jinja" import reload_command %}
{%- set ct = mesos.consul_template %}
{%- set role = mesos.loadbalancer.role %}
{%- set consul_url = salt["config.get"]("consul:url") or "http://127.0.0.1:8500" %}
{%- set config_path = rooted(ct.config_dir ~ "/config.hcl") %}

{#- Debian has no consul-template package: HashiCorp's apt repository
    (install_from: repository) or its release archive, checked against the
    published SHA256SUMS (install_from: archive). #}
{%- set binary = ct.binary %}
{%- if ct.get("install_from") == "archive" %}
{%-   set binary = ct.archive.directory.rstrip("/") ~ "/consul-template" %}
{%- elif ct.get("install_from", "repository") != "repository" %}
{{- raise("mesos:consul_template:install_from must be repository or archive, not " ~ ct.install_from) }}
{%- endif %}

include:
  # The reload script consul-template's command calls.
  - mesos.haproxy
{%- if mesos.manage_packages and ct.get("install_from", "repository") == "repository" and ct.get("repository") %}
  - mesos.repositories
{%- endif %}

{%- if mesos.manage_packages %}
{%-   if ct.get("install_from") == "archive" %}
mesos-consul-template-package:
  archive.extracted:
    - name: {{ ct.archive.directory | tojson }}
    - source: {{ ct.archive.source | tojson }}
    - source_hash: {{ ct.archive.source_hash | tojson }}
    - enforce_toplevel: False
    - if_missing: {{ binary | tojson }}
{%-   else %}
mesos-consul-template-package:
  pkg.installed:
    - name: {{ ct.package }}
{%-     if ct.get("version") %}
    - version: {{ ct.version | string | tojson }}
{%-     endif %}
{%-     if ct.get("repository") %}
    - require:
      - pkgrepo: mesos-repository-{{ ct.repository }}
{%-     endif %}
{%-   endif %}
{%- endif %}

mesos-consul-template-config:
  file.managed:
    - name: {{ config_path }}
    - source: salt://mesos/files/consul-template.hcl.jinja
    - template: jinja
    - makedirs: True
    # It holds the Consul token: readable by root only, never shown in a diff.
    - mode: "0600"
    - show_changes: False
    - require:
      - file: mesos-haproxy-reload-script
    - context:
        consul_url: {{ consul_url | tojson }}
        consul_token: {{ (salt["config.get"]("consul:token") or "") | tojson }}
        settings: {{ ct | tojson }}
        source: {{ rooted(ct.template_dir ~ "/haproxy-" ~ role ~ ".ctmpl") | tojson }}
        destination: {{ rooted(mesos.haproxy.candidate) | tojson }}
        # A list of words, one argument each: a mesos:root with a space stays whole.
        command: {{ reload_command(mesos.haproxy, mesos.root, format="json") }}

mesos-consul-template-unit:
  file.managed:
    - name: {{ rooted(ct.systemd_unit) }}
    - source: salt://mesos/files/consul-template.service.jinja
    - template: jinja
    - makedirs: True
    - mode: "0644"
    - context:
        binary: {{ binary | tojson }}
        config: {{ config_path | tojson }}

{%- if mesos.manage_services %}
mesos-consul-template-service:
  service.running:
    - name: {{ ct.service }}
    - enable: True
    # SIGHUP: consul-template re-reads its configuration and templates.
    - reload: True
    - watch:
      - file: mesos-consul-template-config
      - file: mesos-consul-template-unit
    - require:
      - file: mesos-haproxy-reload-script
{%- if mesos.manage_packages %}
{%-   if ct.get("install_from") == "archive" %}
      - archive: mesos-consul-template-package
{%-   else %}
      - pkg: mesos-consul-template-package
{%-   endif %}
{%- endif %}
{%- endif %}
