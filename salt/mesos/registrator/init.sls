{#- registrator: package, configuration and service (clean: registrator.clean). -#}
{%- set tplroot = tpldir.split("/")[0] %}
include:
  - {{ tplroot }}.registrator.install
  - {{ tplroot }}.registrator.config
  - {{ tplroot }}.registrator.service
