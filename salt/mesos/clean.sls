{#- Removes what the formula's cluster components laid down on this host:
    services stopped and disabled, their files and packages removed. -#}
{%- set tplroot = tpldir.split("/")[0] %}
include:
  - {{ tplroot }}.registrator.clean
  - {{ tplroot }}.mesos_agent.clean
  - {{ tplroot }}.mesos_master.clean
  - {{ tplroot }}.mesos_common.clean
  - {{ tplroot }}.marathon.clean
  - {{ tplroot }}.chronos.clean
  - {{ tplroot }}.zookeeper.clean
  - {{ tplroot }}.consul.clean
  - {{ tplroot }}.docker.clean
  - {{ tplroot }}.consul_template.clean
  - {{ tplroot }}.haproxy.clean
