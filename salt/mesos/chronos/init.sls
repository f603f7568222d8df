{#- chronos: package, configuration and service (clean: chronos.clean). -#}
{%- set tplroot = tpldir.split("/")[0] %}
include:
  - {{ tplroot }}.chronos.install
  - {{ tplroot }}.chronos.config
  - {{ tplroot }}.chronos.service
