{#- chronos: config (see salt/mesos/macros.jinja). -#}
{%- set tplroot = tpldir.split("/")[0] %}
{%- from tplroot ~ "/macros.jinja" import config with context %}
{{ config("chronos") }}
