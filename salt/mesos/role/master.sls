{#- Role master: ZooKeeper, mesos-master, Marathon, Chronos and a Consul
    server. This host must be in mesos:master_nodes. -#}
{%- set tplroot = tpldir.split("/")[0] %}
include:
  - {{ tplroot }}.zookeeper
  - {{ tplroot }}.mesos_master
  - {{ tplroot }}.marathon
  - {{ tplroot }}.chronos
  - {{ tplroot }}.consul
