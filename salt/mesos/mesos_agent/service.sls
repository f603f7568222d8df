{#- mesos_agent: service (see salt/mesos/macros.jinja). -#}
{%- set tplroot = tpldir.split("/")[0] %}
{%- from tplroot ~ "/macros.jinja" import service with context %}
{{ service("mesos_agent") }}
