# The app image pattern, for the reference test-server. Build it from this
# folder so the runtime scripts are in the build context:
#   docker build -f salt/mesos/files/test-server.Dockerfile \
#     -t registry.local/test-server:<tag> salt/mesos/files
# Any app image follows the same four steps: curl and jq installed, the two
# scripts in /usr/bin, the app, and ENTRYPOINT in exec form.
FROM python:3.11-slim-bookworm

# service-wrapper.sh speaks to Consul and Marathon with curl and jq.
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl jq ca-certificates \
    && rm -rf /var/lib/apt/lists/*

# Both scripts are executable in the repository; COPY keeps the mode.
COPY service-wrapper.sh entrypoint.sh /usr/bin/
COPY test-server.py /app/test-server.py

EXPOSE 3000

# Exec form: no shell in between. entrypoint.sh is PID 1, adds dockerhost to
# /etc/hosts and execs Marathon's args (service-wrapper.sh ...), which exec
# the app, so `docker stop`'s SIGTERM reaches the app itself.
ENTRYPOINT ["/usr/bin/entrypoint.sh"]
# Marathon's "args" replace this default (the server alone, no Consul).
CMD ["python3", "/app/test-server.py", "--port", "3000"]
