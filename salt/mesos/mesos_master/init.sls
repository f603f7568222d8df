{#- mesos_master: package, configuration and service (clean: mesos_master.clean). -#}
{%- set tplroot = tpldir.split("/")[0] %}
include:
  - {{ tplroot }}.mesos_master.install
  - {{ tplroot }}.mesos_master.config
  - {{ tplroot }}.mesos_master.service
