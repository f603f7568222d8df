{#- docker: package, configuration and service (clean: docker.clean). -#}
{%- set tplroot = tpldir.split("/")[0] %}
include:
  - {{ tplroot }}.docker.install
  - {{ tplroot }}.docker.config
  - {{ tplroot }}.docker.service
