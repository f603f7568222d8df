{#- marathon: package, configuration and service (clean: marathon.clean). -#}
{%- set tplroot = tpldir.split("/")[0] %}
include:
  - {{ tplroot }}.marathon.install
  - {{ tplroot }}.marathon.config
  - {{ tplroot }}.marathon.service
