base:
  '*':
    - connections
    - mesos
    - apps
