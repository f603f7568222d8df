{#- Chronos deploy jobs from pillar mesos:deploy_jobs (shape in
    pillar/deploy_jobs.sls): for every app and environment listed there, the
    job deploy-<app>-<environment> runs `salt-call marathon.deploy <template>
    <environment> <instances>` on an agent; `before` and `after` jobs are
    chained to it through Chronos parents. The whole pillar is checked in
    Python (chronos.plan_deploy_jobs) before anything is written: a bad
    schedule, a parent that does not exist or a dependency cycle fails the
    render with every problem named. Chronos is reached through chronos:*. -#}
{%- set tplroot = tpldir.split("/")[0] %}
{%- from tplroot ~ "/map.jinja" import mesos with context %}
{%- set jobs = salt["chronos.plan_deploy_jobs"](mesos.apps, mesos.deploy_jobs) %}

{%- for job in jobs %}

mesos-deploy-job-{{ job.name }}:
  chronos_job.present:
    - name: {{ job.name | tojson }}
{%-   for field, value in job | dictsort %}
{%-     if field != "name" %}
    - {{ field }}: {{ value | tojson }}
{%-     endif %}
{%-   endfor %}
{%-   if job.parents is defined %}
    - require:
{%-     for parent in job.parents %}
      - chronos_job: mesos-deploy-job-{{ parent }}
{%-     endfor %}
{%-   endif %}
{%- endfor %}

{%- if not jobs %}

mesos-deploy-jobs-none-in-pillar:
  test.nop: []
{%- endif %}
