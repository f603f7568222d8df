{#- Deploys every app in pillar mesos:apps to Marathon, once per environment
    it lists, from its service template (see pillar/apps.sls):
      mesos-app-<app>-<environment>: marathon_app.present
    Marathon is reached through the marathon:* connection settings. An app
    whose definition already matches costs one GET and reports no change. #}
{%- from "mesos/map.jinja" import mesos with context %}

{%- for app_name, app in mesos.apps | dictsort %}
{%-   set deploy = salt["slsutil.merge"](mesos.deploy, app.get("deploy", {}), strategy="recurse") %}
{%-   for environment, settings in (app.get("environments") or {}) | dictsort %}
{%-     set settings = settings or {} %}

mesos-app-{{ app_name }}-{{ environment }}:
  marathon_app.present:
    - template: {{ app.template | json }}
    - environment: {{ environment | json }}
    - instances: {{ settings.get("instances", 1) | json }}
{%-     if settings.get("tag", app.get("tag")) %}
    - tag: {{ settings.get("tag", app.get("tag")) | string | json }}
{%-     endif %}
{%-     if app.get("values") or settings.get("values") %}
    - values: {{ salt["slsutil.merge"](app.get("values", {}), settings.get("values", {})) | json }}
{%-     endif %}
    - wait: {{ deploy.wait | json }}
    - timeout: {{ deploy.timeout | json }}
    - rollback: {{ deploy.rollback | json }}
{%-   endfor %}
{%- endfor %}
