{#- The whole host by its roles (pillar mesos:roles, else the grain
    mesos:roles): master, agent, lb-internal, lb-external. With `mesos` in
    the top file for every host, `salt '*' state.apply` gives each host its
    role. The pillar is checked first for the whole cluster and this host:
    a bad value fails the run before anything is written, every problem
    named. -#}
{%- set tplroot = tpldir.split("/")[0] %}
{%- from tplroot ~ "/map.jinja" import mesos with context %}
{%- do salt["mesos_cluster.check"](mesos, roles=mesos.roles) %}
include:
{%- for role in mesos.roles %}
  - {{ tplroot }}.role.{{ role | replace("-", "_") }}
{%- endfor %}
