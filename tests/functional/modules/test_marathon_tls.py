"""TLS to Marathon is verified unless configured otherwise."""

import ssl

import pytest
from salt.exceptions import CommandExecutionError

from sandbox.marathon import MarathonServer
from tests.certificates import self_signed_pem
from tests.functional import marathon_support as support
from tests.functional.marathon_support import Bound

module_loaders = support.module_loaders


@pytest.fixture
def self_signed_certificate(tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    certificate_pem, key_pem = self_signed_pem()
    cert.write_bytes(certificate_pem)
    key.write_bytes(key_pem)
    return key, cert


@pytest.fixture
def https_marathon(self_signed_certificate):
    key, cert = self_signed_certificate
    server = MarathonServer()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.start_in_thread()
    try:
        yield server.url.replace("http://", "https://"), cert
    finally:
        server.stop()


def test_unknown_certificate_is_refused_by_default(module_loaders, https_marathon):
    url, _cert = https_marathon
    marathon = Bound(module_loaders.modules.marathon, url)
    with pytest.raises(CommandExecutionError, match="SSLError"):
        marathon.ping()


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_ca_bundle_or_verify_false_is_accepted_when_configured(module_loaders, https_marathon):
    url, cert = https_marathon
    marathon = Bound(module_loaders.modules.marathon, url)
    assert marathon.ping(verify=str(cert)) is True
    assert marathon.ping(verify=False) is True
