{#- consul-template on a load balancer host: renders mesos.loadbalancer's
    template (mesos:loadbalancer:role) into HAProxy's CANDIDATE config and
    runs the reload script on it, which validates the candidate with
    `haproxy -c`, installs it as the live config and reloads HAProxy. An
    invalid candidate is refused and the last good config keeps serving.
    The Consul address and token come from `consul:url` / `consul:token`
    (config.get, like the execution modules). -#}
{%- set tplroot = tpldir.split("/")[0] %}
include:
  - {{ tplroot }}.consul_template.install
  - {{ tplroot }}.consul_template.config
  - {{ tplroot }}.consul_template.service
