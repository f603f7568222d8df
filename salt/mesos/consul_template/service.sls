{#- consul-template: the service; SIGHUP when its config or unit changed. -#}
{%- set tplroot = tpldir.split("/")[0] %}
{%- from tplroot ~ "/map.jinja" import mesos, rooted with context %}
{%- from tplroot ~ "/consul_template/settings.jinja" import ct, role, consul_url, config_path, binary with context %}

include:
  - {{ tplroot }}.consul_template.install
  - {{ tplroot }}.consul_template.config

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
