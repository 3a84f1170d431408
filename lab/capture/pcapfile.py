"""pcap and pcapng, both ways: the writer the relay uses, the reader for any capture, TCP reassembly.

The writer synthesises Ethernet/IPv4/TCP headers around bytes the relay really exchanged:
a three-way handshake, data segments with consistent sequence and acknowledgement numbers
(so Wireshark reassembles TLS records across segments), FIN or RST at the end. A
Decryption Secrets Block carries the TLS key log inside the file, so Wireshark and tshark
decrypt TLS 1.3 without being told where the keys are.

The reader takes classic pcap (either byte order, micro- or nanosecond stamps) and pcapng
(SHB/IDB/EPB/SPB/DSB), link types Ethernet, Linux cooked (v1, v2), raw IP and BSD loopback,
IPv4 and IPv6, and reassembles each TCP stream in sequence order (retransmissions and
overlaps dropped, a gap ends the stream's usable bytes). It is small on purpose: a
customer's capture is untrusted input, and every length is checked before it is used.
"""

from __future__ import annotations

import bisect
import ipaddress
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lab.errors import UserInputError

LINKTYPE_NULL, LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_LINUX_SLL, LINKTYPE_IPV4, LINKTYPE_IPV6 = 0, 1, 101, 113, 228, 229
LINKTYPE_LINUX_SLL2 = 276
SECRETS_TLS_KEYLOG = 0x544C534B  # "TLSK": pcapng Decryption Secrets Block, NSS key log format

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
MAX_TIME = 253402300799.0  # 9999-12-31: the last second datetime can show
MAX_SEGMENT = 32768  # loopback's MTU is 64 KiB; stay well inside an IPv4 datagram


# ------------------------------------------------------------------------------- writing
def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _block(kind: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    length = len(body) + 12
    return struct.pack("<II", kind, length) + body + struct.pack("<I", length)


def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def section_header(application: str) -> bytes:
    """pcapng Section Header Block and one Ethernet interface (microsecond stamps)."""
    shb = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + _option(4, application.encode()) + _option(0, b"")
    idb = struct.pack("<HHI", LINKTYPE_ETHERNET, 0, 0) + _option(2, b"lo") + _option(
        3, b"tlslab relay: synthesised Ethernet/IPv4/TCP headers around the bytes relayed") + _option(0, b"")
    return _block(0x0A0D0D0A, shb) + _block(1, idb)


def secrets_block(keylog: bytes) -> bytes:
    return _block(0x0000000A, struct.pack("<II", SECRETS_TLS_KEYLOG, len(keylog)) + keylog)


def _packet_block(ts: float, frame: bytes) -> bytes:
    micros = int(round(ts * 1_000_000))
    return _block(6, struct.pack("<IIIII", 0, micros >> 32, micros & 0xFFFFFFFF, len(frame), len(frame)) + frame)


@dataclass
class _Side:
    addr: bytes
    port: int
    seq: int


def _frame(src: _Side, dst: _Side, flags: int, payload: bytes) -> bytes:
    ack = dst.seq if flags & ACK else 0
    tcp = struct.pack("!HHIIBBHHH", src.port, dst.port, src.seq, ack, 5 << 4, flags, 65535, 0, 0)
    pseudo = src.addr + dst.addr + struct.pack("!BBH", 0, 6, len(tcp) + len(payload))
    tcp = tcp[:16] + struct.pack("!H", _checksum(pseudo + tcp + payload)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(payload), 0, 0x4000, 64, 6, 0, src.addr, dst.addr)
    ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
    return b"\0" * 12 + b"\x08\x00" + ip + tcp + payload


@dataclass(frozen=True)
class Chunk:
    """What the relay saw: bytes in one direction at one time, or the end of one side."""

    time: float
    from_client: bool
    data: bytes = b""
    end: str = ""  # "fin" or "rst": that side closed (data is then empty)


def tcp_packets(client: tuple[str, int], server: tuple[str, int], started: float,
                chunks: Iterable[Chunk]) -> Iterator[bytes]:
    """pcapng packet blocks for one relayed connection: handshake, data, close."""
    c = _Side(ipaddress.IPv4Address(client[0]).packed, client[1], 0x1000)
    s = _Side(ipaddress.IPv4Address(server[0]).packed, server[1], 0x8000)
    yield _packet_block(started, _frame(c, s, SYN, b""))
    c.seq += 1
    yield _packet_block(started, _frame(s, c, SYN | ACK, b""))
    s.seq += 1
    yield _packet_block(started, _frame(c, s, ACK, b""))
    for chunk in chunks:
        src, dst = (c, s) if chunk.from_client else (s, c)
        if chunk.end:
            yield _packet_block(chunk.time, _frame(src, dst, (FIN | ACK) if chunk.end == "fin" else (RST | ACK), b""))
            src.seq = (src.seq + 1) & 0xFFFFFFFF
            continue
        for i in range(0, len(chunk.data), MAX_SEGMENT):
            part = chunk.data[i:i + MAX_SEGMENT]
            yield _packet_block(chunk.time, _frame(src, dst, PSH | ACK, part))
            src.seq = (src.seq + len(part)) & 0xFFFFFFFF


# ------------------------------------------------------------------------------- reading
@dataclass(frozen=True)
class Packet:
    number: int  # 1-based, as Wireshark numbers frames
    time: float
    src: str
    dst: str
    sport: int
    dport: int
    seq: int
    flags: int
    payload: bytes


@dataclass
class Capture:
    packets: list[Packet] = field(default_factory=list)
    keylog: list[bytes] = field(default_factory=list)  # lines from Decryption Secrets Blocks


def _bad(path: Path, what: str) -> UserInputError:
    return UserInputError(f"{path}: {what}; give a pcap or pcapng file (tcpdump -w, tshark -w, Wireshark)")


def read_packets(path: Path) -> Capture:
    """Every TCP packet of a pcap or pcapng file; a file that is neither is a UserInputError."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise UserInputError(f"{path}: cannot read: {exc.strerror}") from None
    if len(data) < 24:
        raise _bad(path, "too short to be a capture")
    magic = data[:4]
    capture = Capture()
    if magic == b"\x0a\x0d\x0d\x0a":
        frames = _pcapng_frames(path, data, capture)
    elif magic in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d"):
        frames = _pcap_frames(path, data)
    else:
        raise _bad(path, "not a pcap or pcapng file (unknown magic number)")
    for number, (ts, linktype, frame) in enumerate(frames, 1):
        if not 0 <= ts < MAX_TIME:
            ts = 0.0  # a damaged timestamp: unknown, rather than a date no calendar holds
        packet = _decode(number, ts, linktype, frame)
        if packet is not None:
            capture.packets.append(packet)
    return capture


def _pcap_frames(path: Path, data: bytes) -> Iterator[tuple[float, int, bytes]]:
    endian = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    nano = data[:4] in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    linktype = struct.unpack(endian + "I", data[20:24])[0] & 0x0FFFFFFF
    offset = 24
    while offset + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack_from(endian + "IIII", data, offset)
        offset += 16
        if offset + incl > len(data):
            return  # a truncated last packet (a capture cut short): keep what is whole
        yield sec + frac / (1e9 if nano else 1e6), linktype, data[offset:offset + incl]
        offset += incl


def _pcapng_frames(path: Path, data: bytes, capture: Capture) -> Iterator[tuple[float, int, bytes]]:
    endian = "<"
    interfaces: list[tuple[int, float]] = []  # (linktype, seconds per tick)
    offset = 0
    while offset + 12 <= len(data):
        if data[offset:offset + 4] == b"\x0a\x0d\x0d\x0a":
            bom = data[offset + 8:offset + 12]
            endian = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">" if bom == b"\x1a\x2b\x3c\x4d" else ""
            if not endian:
                raise _bad(path, f"pcapng section at byte {offset} has no valid byte-order magic")
            interfaces = []
        kind, length = struct.unpack_from(endian + "II", data, offset)
        if length < 12 or length % 4 or offset + length > len(data):
            if offset + length > len(data) and offset:
                return  # truncated at the end
            raise _bad(path, f"pcapng block at byte {offset} has an invalid length {length}")
        body = data[offset + 8:offset + length - 4]
        offset += length
        if kind == 1 and len(body) >= 8:
            linktype = struct.unpack_from(endian + "H", body, 0)[0]
            interfaces.append((linktype, _ts_resolution(endian, body[8:])))
        elif kind == 6 and len(body) >= 20:
            iface, hi, lo, incl, _ = struct.unpack_from(endian + "IIIII", body, 0)
            if iface < len(interfaces) and 20 + incl <= len(body):
                linktype, tick = interfaces[iface]
                yield ((hi << 32) | lo) * tick, linktype, body[20:20 + incl]
        elif kind == 3 and len(body) >= 4 and interfaces:
            orig = struct.unpack_from(endian + "I", body, 0)[0]
            yield 0.0, interfaces[0][0], body[4:4 + orig]
        elif kind == 0x0A and len(body) >= 8:
            stype, slen = struct.unpack_from(endian + "II", body, 0)
            if stype == SECRETS_TLS_KEYLOG:
                capture.keylog.extend(line for line in body[8:8 + slen].splitlines() if line.strip())


def _ts_resolution(endian: str, options: bytes) -> float:
    i = 0
    while i + 4 <= len(options):
        code, length = struct.unpack_from(endian + "HH", options, i)
        if code == 0:
            break
        if code == 9 and length >= 1:
            value = options[i + 4]
            return 2.0 ** -(value & 0x7F) if value & 0x80 else 10.0 ** -value
        i += 4 + length + (-length % 4)
    return 1e-6


def _decode(number: int, ts: float, linktype: int, frame: bytes) -> Packet | None:
    """The TCP segment inside one frame, or None (not TCP over IP, or too short)."""
    if linktype == LINKTYPE_ETHERNET:
        if len(frame) < 14:
            return None
        ethertype, offset = struct.unpack_from("!H", frame, 12)[0], 14
        while ethertype in (0x8100, 0x88A8) and len(frame) >= offset + 4:  # VLAN tags
            ethertype, offset = struct.unpack_from("!H", frame, offset + 2)[0], offset + 4
        if ethertype not in (0x0800, 0x86DD):
            return None
        ip = frame[offset:]
    elif linktype == LINKTYPE_LINUX_SLL:
        ip = frame[16:]
    elif linktype == LINKTYPE_LINUX_SLL2:
        ip = frame[20:]
    elif linktype == LINKTYPE_NULL:
        ip = frame[4:]
    elif linktype in (LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6):
        ip = frame
    else:
        return None
    if not ip:
        return None
    version = ip[0] >> 4
    if version == 4 and len(ip) >= 20:
        ihl = (ip[0] & 0x0F) * 4
        total = struct.unpack_from("!H", ip, 2)[0] or len(ip)  # 0: TSO on the capturing host
        if ip[9] != 6 or len(ip) < ihl + 20:
            return None
        src, dst = str(ipaddress.IPv4Address(ip[12:16])), str(ipaddress.IPv4Address(ip[16:20]))
        tcp = ip[ihl:min(total, len(ip))]
    elif version == 6 and len(ip) >= 40:
        if ip[6] != 6:
            return None  # extension headers before TCP: rare on loopback captures
        plen = struct.unpack_from("!H", ip, 4)[0]
        src, dst = str(ipaddress.IPv6Address(ip[8:24])), str(ipaddress.IPv6Address(ip[24:40]))
        tcp = ip[40:40 + plen]
    else:
        return None
    if len(tcp) < 20:
        return None
    sport, dport, seq, _, off_flags = struct.unpack_from("!HHIIH", tcp, 0)
    header = (off_flags >> 12) * 4
    if header < 20 or header > len(tcp):
        return None
    return Packet(number, ts, src, dst, sport, dport, seq, off_flags & 0x3F, tcp[header:])


# ------------------------------------------------------------------------------- streams
@dataclass
class Direction:
    """One direction of a TCP stream, reassembled: the bytes, and which packet carried each offset."""

    data: bytes = b""
    offsets: list[int] = field(default_factory=list)  # start offset of each contiguous piece
    packets: list[Packet] = field(default_factory=list)  # the packet that brought each piece
    gap: bool = False  # bytes missing (not captured): the data stops before the gap
    fin: Packet | None = None
    rst: Packet | None = None

    def packet_at(self, offset: int) -> Packet | None:
        i = bisect.bisect_right(self.offsets, offset) - 1
        return self.packets[i] if i >= 0 else None


@dataclass
class Stream:
    client: tuple[str, int]
    server: tuple[str, int]
    first: Packet
    syn: bool = False  # the client's SYN was captured
    syn_ack: bool = False
    to_server: Direction = field(default_factory=Direction)
    to_client: Direction = field(default_factory=Direction)


def tcp_streams(packets: list[Packet]) -> list[Stream]:
    """Group packets into TCP connections and reassemble each direction in sequence order."""
    open_: dict[tuple[tuple[str, int], tuple[str, int]], tuple[Stream, list[Packet], list[Packet]]] = {}
    every: list[tuple[Stream, list[Packet], list[Packet]]] = []
    for p in packets:
        a, b = (p.src, p.sport), (p.dst, p.dport)
        key = (a, b) if a <= b else (b, a)
        entry = open_.get(key)
        new_syn = bool(p.flags & SYN) and not p.flags & ACK
        if entry is None or (new_syn and any(q.flags & (FIN | RST) for q in entry[1] + entry[2])):
            # The client is whoever sent a SYN; without one (capture started late) the higher port
            # is the guess (ephemeral ports are high); the TLS layer corrects it by the ClientHello.
            if p.flags & SYN and p.flags & ACK:
                client, server = b, a
            elif p.flags & SYN:
                client, server = a, b
            else:
                client, server = (a, b) if p.sport > p.dport else (b, a)
            entry = (Stream(client, server, p), [], [])
            open_[key] = entry
            every.append(entry)
        stream, up, down = entry
        if p.flags & SYN:
            if p.flags & ACK:
                stream.syn_ack = True
            else:
                stream.syn = True
        (up if (p.src, p.sport) == stream.client else down).append(p)
    for stream, up, down in every:
        stream.to_server = _reassemble(up)
        stream.to_client = _reassemble(down)
    return [entry[0] for entry in every]


def _reassemble(packets: list[Packet]) -> Direction:
    out = Direction()
    syn = next((p for p in packets if p.flags & SYN), None)
    data = [p for p in packets if p.payload]
    out.fin = next((p for p in packets if p.flags & FIN), None)
    out.rst = next((p for p in packets if p.flags & RST), None)
    if not data:
        return out
    base = (syn.seq + 1) if syn else data[0].seq
    # Relative sequence numbers (mod 2**32); a segment from before the base (capture started mid-stream) is dropped.
    ordered = sorted(((p.seq - base) & 0xFFFFFFFF, i, p) for i, p in enumerate(data))
    pieces: list[bytes] = []
    end = 0
    for rel, _, p in ordered:
        if rel >= 0x80000000:
            continue
        if rel > end:
            out.gap = True
            break
        fresh = p.payload[end - rel:]
        if not fresh:
            continue  # a retransmission of bytes we already have
        out.offsets.append(end)
        out.packets.append(p)
        pieces.append(fresh)
        end += len(fresh)
    out.data = b"".join(pieces)
    return out
