# Where the execution modules find the platform's APIs (read with config.get,
# so minion config or grains work too; per-call arguments override).
# Matches the local stand-ins: `.venv/bin/python -m sandbox consul --port 8500`.
consul:
  url: http://127.0.0.1:8500
  # token: set in a pillar only the masters' minions see.
marathon:
  urls:
    - http://127.0.0.1:8080
chronos:
  url: http://127.0.0.1:4400
