{#- The HAProxy load balancer of this host, role mesos:loadbalancer:role:
      internal  every host: localhost:<port> reaches every tagged service,
                the masters' APIs on the well-known ports
      external  edge hosts: the same plus public HTTP/HTTPS by Host header
    Lays down the consul-template source (rendered from
    mesos/files/haproxy-<role>.ctmpl.jinja with data from map.jinja), then
    mesos.consul_template renders it into HAProxy's candidate config and
    runs the reload script (validate, install, reload), and mesos.haproxy
    runs HAProxy. Pillar is checked here, before anything is written: a bad
    value fails the render with every problem named. -#}
{%- from "mesos/map.jinja" import mesos, rooted with context %}
{%- from "mesos/files/haproxy-global.jinja" import reload_global_settings, reload_defaults_settings %}
{%- set lb = mesos.loadbalancer %}
{%- set ct = mesos.consul_template %}
{%- set proxy_name = "^[A-Za-z0-9][A-Za-z0-9_.-]*$" %}
{%- set host_name = "^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$" %}
{#- No spaces, quotes, `#` (comment) or `$` (variables): HAProxy parses those. #}
{%- set url_path = "^/[A-Za-z0-9._~!&()*+,;=:@%/?-]*$" %}
{%- set file_path = "^/[A-Za-z0-9._+,:@%/-]*$" %}
{%- set bind_address = "^[A-Za-z0-9.:*\\[\\]-]*$" %}
{%- set duration = "^[0-9]+(us|ms|s|m|h|d)?$" %}
{%- set errors = [] %}

{#- Timing words of a server's `check`: inter/fall/rise. #}
{%- macro check_timing(owner, check) -%}
{%- for word in ("inter", "fall", "rise") %}
{%- if not (check[word] | string) is match(duration if word == "inter" else "^[1-9][0-9]*$") %}
{%- do errors.append(owner ~ ": check " ~ word ~ " " ~ (check[word] | string) ~ " is not valid") %}
{%- endif %}
{%- endfor %}
{{- "inter %s fall %s rise %s" | format(check.inter, check.fall, check.rise) }}
{%- endmacro %}

{%- if lb.role not in ("internal", "external") %}
{%- do errors.append("mesos:loadbalancer:role must be internal or external, not " ~ lb.role) %}
{%- endif %}

{#- Environments with their port and host prefixes. #}
{%- set environments = [] %}
{%- set port_prefixes = [] %}
{%- for environment in mesos.environments %}
{%- set port_prefix = lb.environment_port_prefixes.get(environment) %}
{%- if port_prefix is none or not (port_prefix | string) is match("^[1-6]?$") %}
{%- do errors.append("mesos:loadbalancer:environment_port_prefixes:" ~ environment ~ " must be empty or one digit 1-6, not " ~ port_prefix) %}
{%- elif port_prefix | string in port_prefixes %}
{%- do errors.append("mesos:loadbalancer:environment_port_prefixes:" ~ environment ~ " repeats the prefix of another environment") %}
{%- endif %}
{%- do port_prefixes.append(port_prefix | string) %}
{%- if not environment is match("^[a-z][a-z0-9_-]*$") %}
{%- do errors.append("environment " ~ environment ~ " is not a valid name") %}
{%- endif %}
{%- do environments.append({
      "name": environment,
      "port_prefix": port_prefix | string,
      "host_prefix": lb.external.host_prefixes.get(environment, environment ~ "-"),
    }) %}
{%- endfor %}

{#- Per-app health checks and external hosts, from mesos:apps:<app>:haproxy. #}
{%- set default_check = {
      "health_check": lb.default_check.health_check or "",
      "timing": check_timing("mesos:loadbalancer:default_check", lb.default_check),
    } %}
{%- set app_checks = [] %}
{%- set external_apps = [] %}
{%- for app, settings in mesos.apps | dictsort %}
{%- set haproxy = settings.get("haproxy") or {} %}
{%- set check = salt["slsutil.merge"](lb.default_check, haproxy.get("check") or {}, strategy="recurse") %}
{%- set health_check = haproxy.get("health_check", lb.default_check.health_check) or "" %}
{%- if not app is match(proxy_name) %}
{%- do errors.append("mesos:apps:" ~ app ~ ": the name must match " ~ proxy_name) %}
{%- endif %}
{%- if health_check and not health_check is match(url_path) %}
{%- do errors.append("mesos:apps:" ~ app ~ ":haproxy:health_check must be a path without spaces, not " ~ health_check) %}
{%- endif %}
{%- do app_checks.append({
      "name": app,
      "health_check": health_check,
      "timing": check_timing("mesos:apps:" ~ app ~ ":haproxy", check),
    }) %}
{%- if haproxy.get("external_host") %}
{%- set service = haproxy.get("external_service") or app %}
{%- if not haproxy.external_host is match(host_name) %}
{%- do errors.append("mesos:apps:" ~ app ~ ":haproxy:external_host is not a host name: " ~ haproxy.external_host) %}
{%- endif %}
{%- if not service is match(proxy_name) %}
{%- do errors.append("mesos:apps:" ~ app ~ ":haproxy:external_service must match " ~ proxy_name) %}
{%- endif %}
{%- do external_apps.append({"name": app, "service": service, "host": haproxy.external_host}) %}
{%- endif %}
{%- endfor %}

{#- Master nodes and the well-known services on them. #}
{%- set master_nodes = [] %}
{%- for name, address in mesos.master_nodes | dictsort %}
{%- if not name is match(proxy_name) or not (address | string) is match("^[A-Za-z0-9_.:-]+$") %}
{%- do errors.append("mesos:master_nodes: " ~ name ~ " -> " ~ address ~ " is not a valid host name and address") %}
{%- endif %}
{%- do master_nodes.append({"name": name, "address": address}) %}
{%- endfor %}
{%- set wellknown_services = [] %}
{%- set reserved_ports = [] %}
{%- for name, service in lb.wellknown_services | dictsort %}
{%- if service %}
{%- if not (service.health_check | string) is match(url_path) %}
{%- do errors.append("mesos:loadbalancer:wellknown_services:" ~ name ~ ":health_check must be a path") %}
{%- endif %}
{%- if service.get("timeout") and not (service.timeout | string) is match(duration) %}
{%- do errors.append("mesos:loadbalancer:wellknown_services:" ~ name ~ ":timeout is not a duration") %}
{%- endif %}
{%- if not name is match(proxy_name) %}
{%- do errors.append("mesos:loadbalancer:wellknown_services:" ~ name ~ ": the name must match " ~ proxy_name) %}
{%- endif %}
{%- do wellknown_services.append({
      "name": name,
      "listen_port": service.listen_port,
      "port": service.port,
      "health_check": service.health_check,
      "timeout": service.get("timeout") or "",
    }) %}
{%- do reserved_ports.append(service.listen_port | string) %}
{%- endif %}
{%- endfor %}
{%- if lb.role == "external" %}
{%- do reserved_ports.append(lb.external.http_port | string) %}
{%- if lb.external.https %}{% do reserved_ports.append(lb.external.https_port | string) %}{% endif %}
{%- endif %}
{%- for port in reserved_ports %}
{%- if not port is match("^[1-9][0-9]*$") or port | int > 65535 %}
{%- do errors.append("mesos:loadbalancer: port " ~ port ~ " is not a TCP port") %}
{%- elif reserved_ports.count(port) > 1 %}
{%- do errors.append("mesos:loadbalancer: port " ~ port ~ " is used by two fixed frontends") %}
{%- endif %}
{%- endfor %}
{%- for name, value in lb.timeouts | dictsort %}
{%- if not (value | string) is match(duration) %}
{%- do errors.append("mesos:loadbalancer:timeouts:" ~ name ~ " is not a duration: " ~ value) %}
{%- endif %}
{%- endfor %}
{%- for setting, value in (("bind_address", lb.bind_address), ("external:bind_address", lb.external.bind_address)) %}
{%- if not (value or "") is match(bind_address) %}
{%- do errors.append("mesos:loadbalancer:" ~ setting ~ " is not an address: " ~ value) %}
{%- endif %}
{%- endfor %}
{%- if lb.role == "external" and lb.external.https %}
{%- if not (lb.external.certificate | string) is match(file_path) %}
{%- do errors.append("mesos:loadbalancer:external:certificate is not a plain absolute path: " ~ lb.external.certificate) %}
{%- endif %}
{%- if not (lb.external.hsts | string) is match("^[A-Za-z0-9=;, -]+$") %}
{%- do errors.append("mesos:loadbalancer:external:hsts is not a header value: " ~ lb.external.hsts) %}
{%- endif %}
{%- if not (lb.external.tls_min_version | string) is match("^(SSLv3|TLSv1\\.[0-3])$") %}
{%- do errors.append("mesos:loadbalancer:external:tls_min_version must be TLSv1.0-TLSv1.3, not " ~ lb.external.tls_min_version) %}
{%- endif %}
{%- endif %}
{%- if not (lb.maxconn | string) is match("^[1-9][0-9]{0,6}$") %}
{%- do errors.append("mesos:loadbalancer:maxconn must be a positive number, not " ~ lb.maxconn) %}
{%- endif %}

{%- if errors %}
{{ raise("mesos.loadbalancer: invalid pillar:\n  " ~ (errors | unique | join("\n  "))) }}
{%- endif %}

{%- set template_path = rooted(ct.template_dir ~ "/haproxy-" ~ lb.role ~ ".ctmpl") %}
{%- set external = salt["slsutil.merge"](lb.external, {"certificate": rooted(lb.external.certificate)}) %}
{%- set context = {
      "source": template_path,
      "role": lb.role,
      "haproxy_global_settings": reload_global_settings(mesos.haproxy, mesos.root) | string,
      "haproxy_defaults_settings": reload_defaults_settings(mesos.haproxy) | string,
      "log": lb.log or [],
      "chroot": lb.chroot or "",
      "user": mesos.haproxy.user or "",
      "group": mesos.haproxy.group or "",
      "maxconn": lb.maxconn | string,
      "timeouts": lb.timeouts,
      "bind_address": lb.bind_address or "",
      "environments": environments,
      "default_check": default_check,
      "app_checks": app_checks,
      "external_apps": external_apps,
      "external_services": "|" ~ (external_apps | map(attribute="service") | join("|")) ~ "|",
      "external": external,
      "master_nodes": master_nodes,
      "wellknown_services": wellknown_services,
      "reserved_ports": "|" ~ (reserved_ports | join("|")) ~ "|",
    } %}

include:
  - mesos.haproxy
  - mesos.consul_template

mesos-loadbalancer-{{ lb.role }}-template:
  file.managed:
    - name: {{ template_path }}
    - source: salt://mesos/files/haproxy-{{ lb.role }}.ctmpl.jinja
    - template: jinja
    - makedirs: True
    - mode: "0644"
    - context: {{ context | tojson }}
{%- if mesos.manage_services %}
    - watch_in:
      - service: mesos-consul-template-service
{%- endif %}
