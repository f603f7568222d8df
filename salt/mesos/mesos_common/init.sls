{#- mesos_common: package, configuration and service (clean: mesos_common.clean). -#}
{%- set tplroot = tpldir.split("/")[0] %}
include:
  - {{ tplroot }}.mesos_common.install
  - {{ tplroot }}.mesos_common.config
  - {{ tplroot }}.mesos_common.service
