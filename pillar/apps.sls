# Apps the platform runs. For each app and each of its environments:
# - config: app settings, written to Consul KV at app/<environment>/<app>/<KEY>
#   (the prefix service-wrapper reads and the Marathon app id shares). The
#   app-level `config` holds shared defaults; an environment's `config`
#   overrides them key by key. KEYs must be valid environment variable names;
#   values must be strings (quote numbers and booleans: WORKERS: '4').
#   `secret_keys: [DB_PASSWORD]` keeps those values out of state output.
# - template/tag/instances: how mesos.apps deploys it to Marathon. The
#   template (salt://, path, http(s)://, s3://) has $environment, $instances
#   and $tag placeholders; an environment may set its own `tag` (canary),
#   `values` fill any other $placeholder, and `deploy: {timeout, rollback}`
#   overrides mesos:deploy for this app.
# - haproxy: how the load balancers health-check and expose it.
mesos:
  apps:
    test-server:
      template: salt://mesos/services/test-server.json
      tag: master-ef5a154e25b268c611006d08a78a3ec0a451e7ed-56
      config:
        GREETING: hello world
        LOG_LEVEL: info
      haproxy:
        health_check: /healthcheck
        check:
          inter: 10s
          fall: 3
          rise: 2
        external_host: mesos-test.domain.com
      environments:
        production:
          instances: 4
        staging:
          instances: 1
          config:
            LOG_LEVEL: debug
    # The same reference test-server as a local command (no Docker): each
    # task runs service-wrapper.sh and test-server.py from runtime_dir on the
    # agent (see README, "App images and the runtime scripts"). Runs on the
    # Marathon stand-in's --real-processes mode too.
    test-server-local:
      template: salt://mesos/services/test-server-local.json
      values:
        runtime_dir: /usr/local/lib/mesos-runtime
        marathon: 127.0.0.1:8080
        consul: 127.0.0.1:8500
      config:
        GREETING: hello from a local process
      haproxy:
        health_check: /healthcheck
      environments:
        staging:
          instances: 2
