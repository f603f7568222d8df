{#- Role lb-internal (every host): the internal load balancer, so
    localhost:<port> reaches every service and the masters' APIs, and the
    local Consul agent consul-template reads. -#}
{%- set tplroot = tpldir.split("/")[0] %}
include:
  - {{ tplroot }}.consul
  - {{ tplroot }}.loadbalancer
