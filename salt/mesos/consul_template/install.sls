{#- consul-template: HashiCorp's apt repository or the checked release archive. -#}
{%- set tplroot = tpldir.split("/")[0] %}
{%- from tplroot ~ "/map.jinja" import mesos, rooted with context %}
{%- from tplroot ~ "/consul_template/settings.jinja" import ct, role, consul_url, config_path, binary with context %}

{%- if mesos.manage_packages and ct.get("install_from", "repository") == "repository" and ct.get("repository") %}
include:
  - {{ tplroot }}.repositories
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
