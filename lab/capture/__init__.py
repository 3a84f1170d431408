"""Captures: record the lab's handshakes as pcapng, read any capture back, draw the ladder.

    lab.capture.relay      the recorder (a loopback TCP relay) and ``--capture DIR`` sessions
    lab.capture.pcapfile   pcap/pcapng writer and reader, TCP reassembly
    lab.capture.tls        the minimal TLS dissector (and TLS 1.3 decryption with a key log)
    lab.capture.handshake  one connection's handshake and the symptom its client saw
    lab.capture.ladder     the handshake drawn as the documents number it

The public surface is :func:`read_capture`, :func:`symptoms` and :func:`failed_handshakes`.
"""

from lab.capture.handshake import Handshake, failed_handshakes, read_capture, symptoms

__all__ = ["Handshake", "failed_handshakes", "read_capture", "symptoms"]
