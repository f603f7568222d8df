{#- Role lb-external (edge hosts): the external load balancer (the internal
    frontends plus public HTTP/HTTPS by Host header; map.jinja sets
    mesos:loadbalancer:role to external for this role) and a Consul agent. -#}
{%- set tplroot = tpldir.split("/")[0] %}
include:
  - {{ tplroot }}.consul
  - {{ tplroot }}.loadbalancer
