{#- Each app's settings in Consul KV at app/<environment>/<app>/<KEY>: the
    prefix service-wrapper reads and the Marathon app id shares. The app's
    shared `config` is overridden key by key by the environment's `config`.

    consul.app_config_trees checks every app of mesos:apps (environments
    present, KEYs valid environment variable names, values strings) while
    this file renders, so a bad pillar fails the run before any app is
    written. Each prefix is then one consul_kv.tree, applied atomically.
    The values of an app's `secret_keys` never show in the state output. #}
{%- set tplroot = tpldir.split("/")[0] %}
{%- from tplroot ~ "/map.jinja" import mesos with context %}
{#- Values may hold any character; json_in_yaml keeps YAML from folding any. #}
{%- from tplroot ~ "/json.jinja" import json_in_yaml %}
{%- set trees = salt["consul.app_config_trees"](mesos.apps, mesos.environments, show_secrets=True) %}

{%- for tree in trees %}
mesos-config-{{ tree.environment }}-{{ tree.app }}:
  consul_kv.tree:
    - name: {{ tree.prefix | json }}
    - values: {{ json_in_yaml(tree["values"]) }}
    - prune: True
    - hide_values: {{ tree.secret_keys | json }}
{%- else %}
mesos-config-no-apps:
  test.nop:
    - name: no apps in pillar mesos:apps, nothing to write to Consul KV
{%- endfor %}
