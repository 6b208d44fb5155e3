"""The room's TLS: a self-signed certificate for its names, cached; bad files are one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509

from immersion.feed.tls import TlsError, self_signed, server_context
from immersion.serve_cmd import host_names
from tests.support import run_cli


def test_a_self_signed_certificate_names_the_room_and_is_made_once(tmp_path: Path) -> None:
    names = ("casting.test", "127.0.0.1", "localhost")
    cert, key = self_signed(names, tmp_path)
    loaded = x509.load_pem_x509_certificate(cert.read_bytes())
    alt = loaded.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(alt.get_values_for_type(x509.DNSName)) == {"casting.test", "localhost"}
    assert [str(a) for a in alt.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert key.stat().st_mode & 0o077 == 0  # the private key is the owner's alone
    made = cert.stat().st_mtime_ns
    assert self_signed(names, tmp_path) == (cert, key) and cert.stat().st_mtime_ns == made
    assert self_signed(("other.test",), tmp_path)[0] != cert  # other names, another certificate
    server_context(cert, key)  # loads


def test_a_certificate_and_a_key_that_do_not_match_are_one_line(tmp_path: Path) -> None:
    cert, _ = self_signed(("a.test",), tmp_path)
    _, other_key = self_signed(("b.test",), tmp_path)
    with pytest.raises(TlsError, match="not a matching PEM certificate and key"):
        server_context(cert, other_key)
    with pytest.raises(TlsError, match=r"--tls-key .*: no such file"):
        server_context(cert, tmp_path / "missing.key")


def test_the_rooms_names_come_from_its_address_and_name_options() -> None:
    assert host_names("127.0.0.1", ()) == ("127.0.0.1", "localhost")
    assert host_names("127.0.0.1", ("casting.test",))[0] == "casting.test"
    assert host_names("192.0.2.7", ()) == ("192.0.2.7",)
    assert host_names("::1", ()) == ("[::1]", "127.0.0.1", "localhost")
    assert "localhost" in host_names("0.0.0.0", ())


def test_serve_with_half_a_tls_pair_or_a_missing_file_is_one_line(tmp_path: Path) -> None:
    for args in (
        ["--tls-cert", str(tmp_path / "room.crt")],
        ["--tls-cert", str(tmp_path / "room.crt"), "--tls-key", str(tmp_path / "room.key")],
    ):
        result = run_cli("serve", "--port", "0", "--log", str(tmp_path / "log"), *args)
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "--tls" in result.stderr
