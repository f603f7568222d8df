{#- HAProxy with zero-downtime reloads: the package (install), its
    directories, the reload script (the same file as _utils/haproxy_reload.py,
    which the haproxy execution module runs), a bootstrap config and the
    systemd unit whose reload is that script (config), and the service
    (service); haproxy.clean removes them. Honours mesos:root,
    mesos:manage_packages and mesos:manage_services. -#}
{%- set tplroot = tpldir.split("/")[0] %}
include:
  - {{ tplroot }}.haproxy.install
  - {{ tplroot }}.haproxy.config
  - {{ tplroot }}.haproxy.service
