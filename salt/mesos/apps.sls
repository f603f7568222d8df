{#- Deploys every app in pillar mesos:apps to Marathon, once per environment
    it lists, from its service template (see pillar/apps.sls), as the state
    mesos-app-<app>-<environment> (marathon_app.present). $tag comes from the
    environment's `tag` or the app's, $instances from the environment
    (default 1), other placeholders from `values` (app, then environment).
    How long to wait and whether to roll back: mesos:deploy, overridden by
    an app's `deploy`. Marathon is reached through the marathon:* settings. #}
{%- set tplroot = tpldir.split("/")[0] %}
{%- from tplroot ~ "/map.jinja" import mesos with context %}
{%- from tplroot ~ "/json.jinja" import json_in_yaml %}
{%- set deployed = namespace(count=0) %}
{#- Tags and instance counts as pillar typed them; an error names the key. #}
{%- do salt["marathon.check_apps_pillar"](mesos.apps) %}

{%- for app_name, app in mesos.apps | dictsort %}
{%-   set deploy = salt["slsutil.merge"](mesos.deploy, app.get("deploy") or {}, strategy="recurse") %}
{%-   for environment, settings in (app.get("environments") or {}) | dictsort %}
{%-     set settings = settings or {} %}
{%-     set tag = settings.get("tag", app.get("tag")) %}
{%-     set values = salt["slsutil.merge"](app.get("values") or {}, settings.get("values") or {}) %}
{%-     set deployed.count = deployed.count + 1 %}

mesos-app-{{ app_name }}-{{ environment }}:
  marathon_app.present:
    - template: {{ app.template | json }}
    - environment: {{ environment | json }}
    - instances: {{ settings.get("instances", 1) | json }}
{%-     if tag is not none %}
    - tag: {{ tag | string | json }}
{%-     endif %}
{%-     if values %}
    - values: {{ json_in_yaml(values) }}
{%-     endif %}
    - wait: {{ deploy.wait | json }}
    - timeout: {{ deploy.timeout | json }}
    - rollback: {{ deploy.rollback | json }}
{%-   endfor %}
{%- endfor %}

{%- if not deployed.count %}

{#- An SLS without states fails state.apply; say plainly there is nothing to do. #}
mesos-apps-none-in-pillar:
  test.nop: []
{%- endif %}
