{#- docker: clean (see salt/mesos/macros.jinja). -#}
{%- set tplroot = tpldir.split("/")[0] %}
{%- from tplroot ~ "/macros.jinja" import clean with context %}
{{ clean("docker") }}
