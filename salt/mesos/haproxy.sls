{#- HAProxy with zero-downtime reloads: the package, its directories, the
    reload script (the same file as _utils/haproxy_reload.py, which the
    haproxy execution module runs), a bootstrap config, the systemd unit
    whose reload is that script, and the service.
    Honours mesos:root, mesos:manage_packages and mesos:manage_services. #}
{%- from "mesos/map.jinja" import mesos, rooted with context %}
{%- set haproxy = mesos.haproxy %}
{%- set template_context = {"haproxy": haproxy, "root": mesos.root} %}

{%- if mesos.manage_packages %}
mesos-haproxy-package:
  pkg.installed:
    - name: {{ haproxy.package }}
{%- endif %}

mesos-haproxy-directories:
  file.directory:
    - names:
      - {{ rooted(salt["file.dirname"](haproxy.config)) }}
      - {{ rooted(haproxy.run_dir) }}
      - {{ rooted(haproxy.state_dir) }}
    - makedirs: True
    - mode: "0755"

mesos-haproxy-reload-script:
  file.managed:
    - name: {{ rooted(haproxy.reload_script) }}
    - source: salt://_utils/haproxy_reload.py
    - mode: "0755"
    - makedirs: True

# An empty state (format version 1) until the first reload dumps the real
# one, so HAProxy does not warn about a missing file on every start.
mesos-haproxy-server-state-file:
  file.managed:
    - name: {{ rooted(haproxy.server_state_file) }}
    - contents: "1"
    - replace: False
    - mode: "0600"
    - require:
      - file: mesos-haproxy-directories

# Only when no config exists yet: from then on the reload script installs
# every config, after haproxy -c accepted it.
mesos-haproxy-bootstrap-config:
  file.managed:
    - name: {{ rooted(haproxy.config) }}
    - source: salt://mesos/files/haproxy-bootstrap.cfg.jinja
    - template: jinja
    - context: {{ template_context | json }}
    - replace: False
    - mode: "0644"
    - require:
      - file: mesos-haproxy-directories

mesos-haproxy-systemd-unit:
  file.managed:
    - name: {{ rooted(haproxy.systemd_unit) }}
    - source: salt://mesos/files/haproxy.service.jinja
    - template: jinja
    - context: {{ template_context | json }}
    - mode: "0644"
    - makedirs: True

{%- if mesos.manage_services %}
# Salt's systemd module runs daemon-reload itself when a unit changed on disk.
mesos-haproxy-service:
  service.running:
    - name: {{ haproxy.service }}
    - enable: True
    - require:
      - file: mesos-haproxy-reload-script
      - file: mesos-haproxy-bootstrap-config
      - file: mesos-haproxy-server-state-file
{%- if mesos.manage_packages %}
      - pkg: mesos-haproxy-package
{%- endif %}
    # A new unit can change the process model (master-worker or daemon):
    # that takes a restart; config changes go through the reload script.
    - watch:
      - file: mesos-haproxy-systemd-unit
{%- endif %}
