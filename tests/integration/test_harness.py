"""The harness itself: masterless salt-call and a real master/minion both
see this tree's formula and pillar."""


def test_salt_call_local_reads_the_pillar_it_is_given(salt_call):
    salt_call.set_pillar({"mesos": {"root": "/srv/scratch"}})
    # Salt 3008 masks pillar values in output unless asked not to.
    result = salt_call.run("pillar.get", "mesos:root", "unmask=True")
    assert result.returncode == 0, result
    assert result.data == "/srv/scratch"


def test_real_minion_syncs_our_extension_modules(salt_minion):
    result = salt_minion.salt_call_cli().run("sys.list_modules")
    assert result.returncode == 0, result
    assert "consul" in result.data
