"""mesos.runtime applied with salt-call into a scratch root: the runtime
scripts land executable and byte for byte, test mode predicts, a second
apply changes nothing."""

import os
import stat

from tests.runtime_support import FILES

SCRIPTS = ["service-wrapper.sh", "entrypoint.sh", "test-server.py"]


def apply(salt_call, root, test=False):
    salt_call.set_pillar({"mesos": {"root": str(root)}})
    arguments = ["state.apply", "mesos.runtime"] + (["test=True"] if test else [])
    result = salt_call.run(*arguments)
    assert result.returncode == 0, result
    return list(result.data.values())


def test_lays_the_scripts_down_once(salt_call, tmp_path):
    root = tmp_path / "root"
    runtime_dir = root / "usr/local/lib/mesos-runtime"

    predicted = apply(salt_call, root, test=True)
    assert {state["result"] for state in predicted} == {None}
    assert not runtime_dir.exists()

    applied = apply(salt_call, root)
    assert all(state["result"] is True for state in applied), applied
    for script in SCRIPTS:
        laid = runtime_dir / script
        assert laid.read_bytes() == (FILES / script).read_bytes()
        assert stat.S_IMODE(os.stat(laid).st_mode) == 0o755

    again = apply(salt_call, root)
    assert all(state["result"] is True and not state["changes"] for state in again), again
