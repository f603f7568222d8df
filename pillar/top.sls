base:
  '*':
    - connections
    - mesos
    - apps
    - deploy_jobs
