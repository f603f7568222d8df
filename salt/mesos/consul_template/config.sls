{#- consul-template: its configuration (with the reload command) and unit. -#}
{%- set tplroot = tpldir.split("/")[0] %}
{%- from tplroot ~ "/map.jinja" import mesos, rooted with context %}
{%- from tplroot ~ "/consul_template/settings.jinja" import ct, role, consul_url, config_path, binary with context %}
{%- from tplroot ~ "/files/haproxy-global.jinja" import reload_command %}

include:
  # The reload script consul-template's command calls.
  - {{ tplroot }}.haproxy

mesos-consul-template-config:
  file.managed:
    - name: {{ config_path }}
    - source: salt://{{ tplroot }}/files/consul-template.hcl.jinja
    - template: jinja
    - makedirs: True
    # It holds the Consul token: readable by root only, never shown in a diff.
    - mode: "0600"
    - show_changes: False
    - require:
      - file: mesos-haproxy-reload-script
    - context:
        consul_url: {{ consul_url | tojson }}
        consul_token: {{ (salt["config.get"]("consul:token") or "") | tojson }}
        settings: {{ ct | tojson }}
        source: {{ rooted(ct.template_dir ~ "/haproxy-" ~ role ~ ".ctmpl") | tojson }}
        destination: {{ rooted(mesos.haproxy.candidate) | tojson }}
        # A list of words, one argument each: a mesos:root with a space stays whole.
        command: {{ reload_command(mesos.haproxy, mesos.root, format="json") }}

mesos-consul-template-unit:
  file.managed:
    - name: {{ rooted(ct.systemd_unit) }}
    - source: salt://{{ tplroot }}/files/consul-template.service.jinja
    - template: jinja
    - makedirs: True
    - mode: "0644"
    - context:
        binary: {{ binary | tojson }}
        config: {{ config_path | tojson }}
