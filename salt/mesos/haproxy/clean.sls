{#- Removes what mesos.haproxy laid down: the service stopped and disabled,
    the unit, reload script and server-state file, the package. The live
    config is the package's file: removing the package removes it. -#}
{%- set tplroot = tpldir.split("/")[0] %}
{%- from tplroot ~ "/map.jinja" import mesos, rooted with context %}
{%- set haproxy = mesos.haproxy %}
{%- if mesos.manage_services %}
mesos-haproxy-service-clean:
  service.dead:
    - name: {{ haproxy.service | tojson }}
    - enable: False
{%- endif %}
{%- for path in (haproxy.systemd_unit, haproxy.reload_script, haproxy.server_state_file, haproxy.candidate) %}
mesos-haproxy-clean-{{ loop.index }}:
  file.absent:
    - name: {{ rooted(path) | tojson }}
{%-   if mesos.manage_services %}
    - require:
      - service: mesos-haproxy-service-clean
{%-   endif %}
{%- endfor %}
{%- if mesos.manage_packages %}
mesos-haproxy-package-clean:
  pkg.removed:
    - name: {{ haproxy.package | tojson }}
{%- endif %}
