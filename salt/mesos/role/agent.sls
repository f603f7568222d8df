{#- Role agent (Mesos slave): Docker, mesos-slave with the Docker
    containerizer, a Consul client and the registrator. -#}
{%- set tplroot = tpldir.split("/")[0] %}
include:
  - {{ tplroot }}.docker
  - {{ tplroot }}.mesos_agent
  - {{ tplroot }}.consul
  - {{ tplroot }}.registrator
