{#- haproxy: the package (mesos:haproxy:package). -#}
{%- set tplroot = tpldir.split("/")[0] %}
{%- from tplroot ~ "/map.jinja" import mesos, rooted with context %}
{%- set haproxy = mesos.haproxy %}
{%- if mesos.manage_packages %}
mesos-haproxy-package:
  pkg.installed:
    - name: {{ haproxy.package }}
{%- endif %}
