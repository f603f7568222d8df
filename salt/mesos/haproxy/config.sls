{#- haproxy: directories, reload script, server-state file, bootstrap config, unit. -#}
{%- set tplroot = tpldir.split("/")[0] %}
{%- from tplroot ~ "/map.jinja" import mesos, rooted with context %}
{%- set haproxy = mesos.haproxy %}
{%- set template_context = {"haproxy": haproxy, "root": mesos.root} %}

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
    - source: salt://{{ tplroot }}/files/haproxy-bootstrap.cfg.jinja
    - template: jinja
    - context: {{ template_context | json }}
    - replace: False
    - mode: "0644"
    - require:
      - file: mesos-haproxy-directories

mesos-haproxy-systemd-unit:
  file.managed:
    - name: {{ rooted(haproxy.systemd_unit) }}
    - source: salt://{{ tplroot }}/files/haproxy.service.jinja
    - template: jinja
    - context: {{ template_context | json }}
    - mode: "0644"
    - makedirs: True
