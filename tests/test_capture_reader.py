"""The reader on damaged input: a customer's capture is untrusted; it gets an answer or a clear error, never a traceback."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from lab.scenario import Catalog
from lab.capture import read_capture
from lab.capture import pcapfile
from lab.errors import UserInputError

_BODY = b"\x03\x03" + b"\x11" * 32 + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00"  # no extensions
_HS = b"\x01" + len(_BODY).to_bytes(3, "big") + _BODY
HELLO = b"\x16\x03\x01" + len(_HS).to_bytes(2, "big") + _HS


def _capture(tmp_path: Path, payloads: list[tuple[bool, bytes]]) -> Path:
    path = tmp_path / "c.pcapng"
    chunks = [pcapfile.Chunk(1.0 + i, c, d) for i, (c, d) in enumerate(payloads)]
    path.write_bytes(pcapfile.section_header("test")
                     + b"".join(pcapfile.tcp_packets(("127.0.0.1", 40000), ("127.0.0.1", 443), 1.0, chunks)))
    return path


def test_a_client_hello_without_answer_reads_as_timeout(tmp_path: Path) -> None:
    (h,) = read_capture(_capture(tmp_path, [(True, HELLO)]))
    assert h.failed and h.client_hello is not None and h.client_hello.cipher_suites == (0x1301,)
    assert h.client_hello.server_name is None and h.ended_by == "open"


def test_truncated_and_corrupted_files_never_raise_anything_but_user_input_errors(tmp_path: Path) -> None:
    good = _capture(tmp_path, [(True, HELLO), (False, bytes.fromhex("15030300020228"))]).read_bytes()
    rng = random.Random(11)
    damaged = tmp_path / "d.pcapng"
    for cut in list(range(0, len(good), 7)) + [len(good)]:
        damaged.write_bytes(good[:cut])
        try:
            read_capture(damaged)
        except UserInputError:
            pass
    for _ in range(300):
        data = bytearray(good)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        damaged.write_bytes(bytes(data))
        try:
            read_capture(damaged)
        except UserInputError:
            pass


@pytest.mark.parametrize("content", [b"", b"hello", b"\x00" * 100])
def test_not_a_capture_is_a_user_input_error_naming_the_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes(content)
    with pytest.raises(UserInputError, match="x.bin"):
        read_capture(path)


def test_failed_handshakes_feed_explain(tmp_path: Path, catalog: Catalog) -> None:
    """A server's handshake_failure alert in a capture goes through explain's ranking: the scenarios
    whose fault is that alert come out, best first (the same answer as explain TEXT gives)."""
    from lab.capture import failed_handshakes
    from lab.commands.pcap import explain_handshake
    from lab.explain import explain_symptoms
    from lab.symptoms import Kind, Symptom

    path = _capture(tmp_path, [(True, HELLO), (False, bytes.fromhex("15030300020228"))])
    ((h, symptoms),) = failed_handshakes(read_capture(path))
    assert symptoms == (Symptom(Kind.ALERT, "handshake_failure"),)
    names, explanation = explain_handshake(h, catalog)
    assert {"sni-required", "cipher-mismatch"} <= set(names[:3]), names
    assert names == [c.scenario for c in explain_symptoms(symptoms, catalog).candidates[:5]]
    assert explanation.tell_apart, "candidates that give the same alert come with an observation that separates them"
