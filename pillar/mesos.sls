mesos:
  master_nodes:
    mesos-master-1: 127.0.0.1
