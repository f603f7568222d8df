{#- The app runtime scripts on a host, for apps Marathon runs as local
    commands (the Mesos containerizer, or the stand-in's --real-processes):
    service-wrapper.sh, entrypoint.sh and the reference test-server.py in
    mesos:runtime:dir, where a service template's args name them (see
    salt/mesos/services/test-server-local.json). Docker apps carry the same
    scripts in their image instead (README, "App images"). #}
{%- set tplroot = tpldir.split("/")[0] %}
{%- from tplroot ~ "/map.jinja" import mesos, rooted with context %}
{%- set runtime_dir = rooted(mesos.runtime.dir) %}

mesos-runtime-dir:
  file.directory:
    - name: {{ runtime_dir | json }}
    - mode: "0755"
    - makedirs: True
{%- for script in ["service-wrapper.sh", "entrypoint.sh", "test-server.py"] %}

mesos-runtime-{{ script }}:
  file.managed:
    - name: {{ (runtime_dir ~ "/" ~ script) | json }}
    - source: salt://{{ tplroot }}/files/{{ script }}
    - mode: "0755"
    - require:
      - file: mesos-runtime-dir
{%- endfor %}
