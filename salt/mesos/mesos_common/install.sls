{#- mesos_common: install (see salt/mesos/macros.jinja). -#}
{%- set tplroot = tpldir.split("/")[0] %}
{%- from tplroot ~ "/macros.jinja" import install with context %}
{{ install("mesos_common") }}
