# State top file: every host gets the `mesos` formula, and mesos/init.sls
# includes one state per role the host has (pillar mesos:roles, or the grain
# mesos:roles when pillar sets none):
#   master       ZooKeeper, mesos-master, Marathon, Chronos, Consul server
#   agent        Docker, mesos-slave, Consul client, registrator
#   lb-internal  every host: the internal HAProxy load balancer
#   lb-external  edge hosts: the external load balancer
# `salt '*' state.apply` then provisions the whole cluster. To assign roles
# in the top file instead, target them directly, e.g.
#   'mesos:roles:master':
#     - match: grain
#     - mesos.role.master
base:
  '*':
    - mesos
