# Chronos deploy jobs (state mesos.deploy_jobs). For each app (it must be in
# mesos:apps) and each environment listed, the job deploy-<app>-<environment>
# runs `salt-call marathon.deploy <template> <environment> <instances>`:
# - template: default the app's template in mesos:apps; CI publishes
#   s3://<bucket>/<app>/service-<branch>.json (tools/service_defs.py).
# - instances: default the environment's instances in mesos:apps.
# - schedule: R[n]/<start>/<ISO 8601 duration> for the deploy job, or the
#   first `before` job; default mesos:deploy_jobs:schedule (on demand only).
# - before / after: Chronos jobs (name, command, any Chronos field) chained
#   before and after the deploy through parents; an `after` job may name its
#   own `parents`. Run the head of the chain (UI or
#   `salt-call chronos.run_job <name>`) and the rest follows in order.
mesos:
  deploy_jobs:
    owner: ops@example.com
    apps:
      test-server:
        template: s3://build-artifacts/test-server/service-master.json
        environments:
          staging:
            schedule: R/2026-11-28T03:00:00Z/P1D
            after:
              - name: test-server-staging-smoke-test
                command: curl --fail --silent http://localhost:13000/healthcheck
          production:
            before:
              - name: test-server-production-backup
                command: /usr/local/bin/backup-test-server
