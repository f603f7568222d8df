{#- haproxy: the service; a new unit restarts it, configs go through the reload script. -#}
{%- set tplroot = tpldir.split("/")[0] %}
{%- from tplroot ~ "/map.jinja" import mesos, rooted with context %}
{%- set haproxy = mesos.haproxy %}
include:
  - {{ tplroot }}.haproxy.install
  - {{ tplroot }}.haproxy.config

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
