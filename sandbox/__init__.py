"""Local stand-ins for Consul, Marathon and Chronos, and the platform demo.

Consul, Marathon, Chronos and consul-template cannot be installed here, so
these speak their HTTP APIs as docs/api-notes.md in this repository describes.
They are test and demo infrastructure, never imported by the Salt modules.
"""
