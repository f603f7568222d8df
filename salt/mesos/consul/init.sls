{#- consul: package, configuration and service (clean: consul.clean). -#}
{%- set tplroot = tpldir.split("/")[0] %}
include:
  - {{ tplroot }}.consul.install
  - {{ tplroot }}.consul.config
  - {{ tplroot }}.consul.service
