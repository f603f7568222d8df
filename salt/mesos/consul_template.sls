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

{%- if mesos.manage_packages %}
mesos-consul-template-package:
  pkg.installed:
    - name: {{ ct.package }}
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
        binary: {{ ct.binary | tojson }}
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
{%- if mesos.manage_packages %}
    - require:
      - pkg: mesos-consul-template-package
{%- endif %}
{%- endif %}
