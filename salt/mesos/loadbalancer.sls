{#- The HAProxy load balancer of this host, role mesos:loadbalancer:role:
      internal  every host: localhost:<port> reaches every tagged service,
                the masters' APIs on the well-known ports
      external  edge hosts: the same plus public HTTP/HTTPS by Host header
    Every pillar check and the data the templates receive come from
    _utils/loadbalancer_config.py (through mesos_loadbalancer.template_data):
    a bad value fails the render with every problem named, nothing written.
    This file lays the consul-template source down (haproxy-<role>.ctmpl.jinja);
    mesos.consul_template renders it into HAProxy's candidate config and runs
    the reload script (validate, install, reload), mesos.haproxy runs HAProxy. -#}
{%- set tplroot = tpldir.split("/")[0] %}
{%- from tplroot ~ "/map.jinja" import mesos, rooted with context %}
{%- from tplroot ~ "/files/haproxy-global.jinja" import reload_global_settings, reload_defaults_settings %}
{%- set data = salt["mesos_loadbalancer.template_data"](mesos) %}
{%- set role = data.role %}
{%- set template_path = rooted(mesos.consul_template.template_dir ~ "/haproxy-" ~ role ~ ".ctmpl") %}
{%- set certificate = rooted(data.external.certificate or "") %}
{%- set needs_certificate = role == "external" and data.external.https %}
{%- do data.external.update({"certificate": certificate}) %}
{%- do data.update({
      "source": template_path,
      "haproxy_global_settings": reload_global_settings(mesos.haproxy, mesos.root) | string,
      "haproxy_defaults_settings": reload_defaults_settings(mesos.haproxy) | string,
    }) %}

include:
  - {{ tplroot }}.haproxy
  - {{ tplroot }}.consul_template
{%- if needs_certificate and data.external.get("self_signed") %}

{#- Demo and test clusters: a self-signed certificate, its key beside it
    (HAProxy loads <certificate>.key itself). Kept once made. #}
mesos-loadbalancer-certificate-key:
  x509.private_key_managed:
    - name: {{ certificate }}.key
    - algo: ec
    - makedirs: True
    - mode: "0600"

mesos-loadbalancer-certificate-self-signed:
  x509.certificate_managed:
    - name: {{ certificate }}
    - private_key: {{ certificate }}.key
    - signing_private_key: {{ certificate }}.key
    - CN: {{ data.external.self_signed | tojson }}
    - days_valid: 365
    - days_remaining: 30
    - makedirs: True
    - require:
      - x509: mesos-loadbalancer-certificate-key
    - require_in:
      - file: mesos-loadbalancer-certificate
{%- endif %}
{%- if needs_certificate %}

{#- HAProxy refuses every config whose certificate is missing: say so now. #}
mesos-loadbalancer-certificate:
  file.exists:
    - name: {{ certificate }}

mesos-loadbalancer-certificate-missing:
  test.fail_without_changes:
    - name: mesos:loadbalancer:external:certificate
    - comment: >-
        The HTTPS certificate {{ certificate }} (pillar
        mesos:loadbalancer:external:certificate, a PEM with certificate and key)
        does not exist; put it there or set mesos:loadbalancer:external:https false
    - onfail:
      - file: mesos-loadbalancer-certificate
{%- endif %}

mesos-loadbalancer-{{ role }}-template:
  file.managed:
    - name: {{ template_path }}
    - source: salt://{{ tplroot }}/files/haproxy-{{ role }}.ctmpl.jinja
    - template: jinja
    - makedirs: True
    - mode: "0644"
    - context: {{ data | tojson }}
{%- if needs_certificate %}
    - require:
      - file: mesos-loadbalancer-certificate
{%- endif %}
{%- if mesos.manage_services %}
    - watch_in:
      - service: mesos-consul-template-service
{%- endif %}
