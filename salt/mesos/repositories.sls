{#- The apt repositories of mesos:repositories (per OS family in
    osfamilymap.yaml, overridable in pillar mesos:lookup:repositories); the
    components' packages require the one they name. Only with
    mesos:manage_packages. -#}
{%- set tplroot = tpldir.split("/")[0] %}
{%- from tplroot ~ "/map.jinja" import mesos with context %}
{%- if mesos.manage_packages %}
{%-   for name, repository in (mesos.repositories or {}) | dictsort %}
mesos-repository-{{ name }}:
  pkgrepo.managed:
    - name: {{ repository.name | tojson }}
    - file: {{ repository.file | tojson }}
{%-     if repository.get("key_url") %}
    - key_url: {{ repository.key_url | tojson }}
    - signedby: {{ repository.signedby | tojson }}
    - aptkey: False
{%-     endif %}
{%-   endfor %}
{%- endif %}
mesos-repositories:
  test.nop:
    - name: {{ "apt repositories" if mesos.manage_packages else "mesos:manage_packages is off: no apt repositories" }}
