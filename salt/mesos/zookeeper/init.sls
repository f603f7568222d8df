{#- zookeeper: package, configuration and service (clean: zookeeper.clean). -#}
{%- set tplroot = tpldir.split("/")[0] %}
include:
  - {{ tplroot }}.zookeeper.install
  - {{ tplroot }}.zookeeper.config
  - {{ tplroot }}.zookeeper.service
