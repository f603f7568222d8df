{#- Removes what mesos.consul_template and mesos.loadbalancer laid down: the
    service stopped and disabled, its unit, configuration and templates, the
    package (or the binary from the release archive). -#}
{%- set tplroot = tpldir.split("/")[0] %}
{%- from tplroot ~ "/map.jinja" import mesos, rooted with context %}
{%- set ct = mesos.consul_template %}
{%- if mesos.manage_services %}
mesos-consul-template-service-clean:
  service.dead:
    - name: {{ ct.service | tojson }}
    - enable: False
{%- endif %}
{%- for path in (ct.systemd_unit, ct.config_dir) %}
mesos-consul-template-clean-{{ loop.index }}:
  file.absent:
    - name: {{ rooted(path) | tojson }}
{%-   if mesos.manage_services %}
    - require:
      - service: mesos-consul-template-service-clean
{%-   endif %}
{%- endfor %}
{%- if mesos.manage_packages %}
{%-   if ct.get("install_from") == "archive" %}
mesos-consul-template-package-clean:
  file.absent:
    - name: {{ (ct.archive.directory.rstrip("/") ~ "/consul-template") | tojson }}
{%-   else %}
mesos-consul-template-package-clean:
  pkg.removed:
    - name: {{ ct.package | tojson }}
{%-   endif %}
{%- endif %}
