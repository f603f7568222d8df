{#- mesos_agent: package, configuration and service (clean: mesos_agent.clean). -#}
{%- set tplroot = tpldir.split("/")[0] %}
include:
  - {{ tplroot }}.mesos_agent.install
  - {{ tplroot }}.mesos_agent.config
  - {{ tplroot }}.mesos_agent.service
